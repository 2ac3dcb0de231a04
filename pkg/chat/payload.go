package chat

import (
	"strconv"

	"github.com/parley-dev/parley/pkg/apperr"
)

// Message payloads are checked against the shapes of the Botpress SDK's
// default message types. Unknown fields are allowed (integrations extend
// the shapes, e.g. with metadata); missing or mistyped ones are not.
type field struct {
	name     string
	kind     string // "string" (non-empty), "number", "options", "actions", "cards"
	optional bool
}

var messageTypes = map[string][]field{
	"text":     {{name: "text", kind: "string"}},
	"markdown": {{name: "markdown", kind: "string"}},
	"image":    {{name: "imageUrl", kind: "string"}},
	"audio":    {{name: "audioUrl", kind: "string"}},
	"video":    {{name: "videoUrl", kind: "string"}},
	"file":     {{name: "fileUrl", kind: "string"}, {name: "title", kind: "string", optional: true}},
	"location": {{name: "latitude", kind: "number"}, {name: "longitude", kind: "number"}, {name: "address", kind: "string", optional: true}, {name: "title", kind: "string", optional: true}},
	"choice":   {{name: "text", kind: "string"}, {name: "options", kind: "options"}},
	"dropdown": {{name: "text", kind: "string"}, {name: "options", kind: "options"}},
	"card":     cardFields,
	"carousel": {{name: "items", kind: "cards"}},
}

var cardFields = []field{
	{name: "title", kind: "string"}, {name: "subtitle", kind: "string", optional: true},
	{name: "imageUrl", kind: "string", optional: true}, {name: "actions", kind: "actions"},
}

// validatePayload checks a message payload against its type.
func validatePayload(typ string, payload map[string]any) error {
	fields, ok := messageTypes[typ]
	if !ok {
		return apperr.Invalid("message type %q is not supported (text, markdown, image, audio, video, file, location, choice, dropdown, card, carousel)", typ)
	}
	return checkFields("payload", payload, fields)
}

func checkFields(path string, obj map[string]any, fields []field) error {
	for _, f := range fields {
		v, present := obj[f.name]
		where := path + "." + f.name
		if !present || v == nil {
			if f.optional {
				continue
			}
			return apperr.Invalid("%s is required", where)
		}
		switch f.kind {
		case "string":
			if s, ok := v.(string); !ok || s == "" {
				return apperr.Invalid("%s must be a non-empty string", where)
			}
		case "number":
			if _, ok := v.(float64); !ok {
				return apperr.Invalid("%s must be a number", where)
			}
		case "options":
			if err := eachObject(where, v, []field{{name: "label", kind: "string"}, {name: "value", kind: "string"}}); err != nil {
				return err
			}
		case "actions":
			if err := eachObject(where, v, []field{{name: "action", kind: "string"}, {name: "label", kind: "string"}, {name: "value", kind: "string"}}); err != nil {
				return err
			}
			for _, a := range v.([]any) {
				switch a.(map[string]any)["action"] {
				case "postback", "url", "say":
				default:
					return apperr.Invalid("%s[].action must be postback, url or say", where)
				}
			}
		case "cards":
			if err := eachObject(where, v, cardFields); err != nil {
				return err
			}
		}
	}
	return nil
}

func eachObject(path string, v any, fields []field) error {
	list, ok := v.([]any)
	if !ok {
		return apperr.Invalid("%s must be an array", path)
	}
	for i, it := range list {
		obj, ok := it.(map[string]any)
		if !ok {
			return apperr.Invalid("%s[%d] must be an object", path, i)
		}
		if err := checkFields(path+"["+strconv.Itoa(i)+"]", obj, fields); err != nil {
			return err
		}
	}
	return nil
}
