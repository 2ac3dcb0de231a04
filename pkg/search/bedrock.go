package search

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
)

// TitanV2 is Amazon Titan Text Embeddings V2's model id.
const TitanV2 = "amazon.titan-embed-text-v2:0"

// titanMaxChars is Titan V2's input limit in characters (it also caps
// tokens at 8,192, which this many characters of prose stays under).
const titanMaxChars = 50000

// InvokeModelAPI is the Bedrock runtime call the Bedrock embedder makes.
type InvokeModelAPI interface {
	InvokeModel(ctx context.Context, in *bedrockruntime.InvokeModelInput, opts ...func(*bedrockruntime.Options)) (*bedrockruntime.InvokeModelOutput, error)
}

var _ InvokeModelAPI = (*bedrockruntime.Client)(nil)

// Bedrock embeds through Amazon Bedrock's Titan Text Embeddings V2, which
// takes one text per InvokeModel call: Embed runs up to Parallel calls at
// once (bounded, so a 500-passage file neither waits on 500 sequential
// calls nor opens 500 connections). The SDK's retryer absorbs throttling.
type Bedrock struct {
	Client InvokeModelAPI
	// Model defaults to TitanV2; Dim to 1024 (Titan V2 also gives 256 and 512).
	Model    string
	Dim      int
	Parallel int
}

var _ Embedder = Bedrock{}

// Dimensions implements Embedder.
func (b Bedrock) Dimensions() int {
	if b.Dim <= 0 {
		return 1024
	}
	return b.Dim
}

func (b Bedrock) model() string {
	if b.Model == "" {
		return TitanV2
	}
	return b.Model
}

func (b Bedrock) parallel() int {
	if b.Parallel <= 0 {
		return 8
	}
	return b.Parallel
}

type titanRequest struct {
	InputText  string `json:"inputText"`
	Dimensions int    `json:"dimensions"`
	Normalize  bool   `json:"normalize"`
}

type titanResponse struct {
	Embedding []float32 `json:"embedding"`
}

// Embed implements Embedder: the vectors come back in the order of texts;
// the first failure cancels the calls not yet made. A blank text embeds as
// the zero vector without a call (Titan refuses empty input).
func (b Bedrock) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	out := make([][]float32, len(texts))
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg    sync.WaitGroup
		once  sync.Once
		first error
	)
	sem := make(chan struct{}, b.parallel())
	for i, t := range texts {
		if strings.TrimSpace(t) == "" {
			out[i] = make([]float32, b.Dimensions())
			continue
		}
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			v, err := b.one(ctx, t)
			if err != nil {
				once.Do(func() { first = err; cancel() })
				return
			}
			out[i] = v
		}()
	}
	wg.Wait()
	if first != nil {
		return nil, first
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

func (b Bedrock) one(ctx context.Context, text string) ([]float32, error) {
	if r := []rune(text); len(r) > titanMaxChars {
		text = string(r[:titanMaxChars])
	}
	body, err := json.Marshal(titanRequest{InputText: text, Dimensions: b.Dimensions(), Normalize: true})
	if err != nil {
		return nil, err
	}
	res, err := b.Client.InvokeModel(ctx, &bedrockruntime.InvokeModelInput{
		ModelId: aws.String(b.model()), Body: body,
		ContentType: aws.String("application/json"), Accept: aws.String("application/json"),
	})
	if err != nil {
		return nil, fmt.Errorf("bedrock %s: %w", b.model(), err)
	}
	var tr titanResponse
	if err := json.Unmarshal(res.Body, &tr); err != nil {
		return nil, fmt.Errorf("bedrock %s: unreadable answer: %w", b.model(), err)
	}
	if len(tr.Embedding) != b.Dimensions() {
		return nil, fmt.Errorf("bedrock %s answered %d dimensions, want %d (an emulator without Bedrock answers none: use EMBEDDER=local)", b.model(), len(tr.Embedding), b.Dimensions())
	}
	return tr.Embedding, nil
}

// Embedder kinds, as the EMBEDDER setting names them.
const (
	EmbedderLocal   = "local"
	EmbedderBedrock = "bedrock"
)

// NewEmbedder returns the embedder a configuration names: "local" (the
// default: in process, no network) or "bedrock" (Titan V2 through client),
// both answering dims dimensions.
func NewEmbedder(kind string, dims int, client InvokeModelAPI) (Embedder, error) {
	switch kind {
	case "", EmbedderLocal:
		return Local{Dim: dims}, nil
	case EmbedderBedrock:
		switch dims {
		case 256, 512, 1024:
		default:
			return nil, fmt.Errorf("EMBEDDER=bedrock: Titan V2 gives 256, 512 or 1024 dimensions, not %d", dims)
		}
		if client == nil {
			return nil, fmt.Errorf("EMBEDDER=bedrock needs a Bedrock runtime client")
		}
		return Bedrock{Client: client, Dim: dims}, nil
	}
	return nil, fmt.Errorf("EMBEDDER must be %q or %q, not %q", EmbedderLocal, EmbedderBedrock, kind)
}
