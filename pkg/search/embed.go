// Package search is Parley's one search engine, shared by file passages and
// table rows: text becomes vectors through an Embedder (Amazon Bedrock's
// Titan Text Embeddings V2 when deployed; Local, in process, for local runs
// and tests), and vectors are compared by cosine similarity.
package search

import (
	"context"
	"hash/fnv"
	"math"
	"strings"
	"unicode"
)

// Embedder turns texts into vectors of Dimensions() floats, normalised to
// unit length, in the order given.
type Embedder interface {
	Embed(ctx context.Context, texts []string) ([][]float32, error)
	Dimensions() int
}

// Local is an in-process embedder that needs no network: the hashed counts
// of a text's words (lower-cased, accents kept) and of their character
// trigrams, L2-normalised (feature hashing). It captures shared words and
// word forms ("deleting" ~ "delete"), not meaning: paraphrases score low.
// It stands in for Bedrock locally and in tests; it is not a language
// model.
type Local struct {
	// Dim is the vector size (default 512).
	Dim int
}

var _ Embedder = Local{}

// Dimensions implements Embedder.
func (l Local) Dimensions() int {
	if l.Dim <= 0 {
		return 512
	}
	return l.Dim
}

// Embed implements Embedder.
func (l Local) Embed(_ context.Context, texts []string) ([][]float32, error) {
	out := make([][]float32, len(texts))
	for i, t := range texts {
		out[i] = l.vector(t)
	}
	return out, nil
}

func (l Local) vector(text string) []float32 {
	v := make([]float32, l.Dimensions())
	add := func(feature string, weight float32) {
		h := fnv.New32a()
		h.Write([]byte(feature))
		sum := h.Sum32()
		sign := float32(1)
		if sum&1 == 1 {
			sign = -1
		}
		v[int(sum>>1)%len(v)] += sign * weight
	}
	for _, w := range Words(text) {
		if stopWords[w] {
			continue
		}
		add("w:"+w, 1)
		padded := "^" + w + "$"
		r := []rune(padded)
		for i := 0; i+3 <= len(r); i++ {
			add("t:"+string(r[i:i+3]), 0.3)
		}
	}
	normalize(v)
	return v
}

// Words splits text into lower-cased words of letters and digits.
func Words(text string) []string {
	return strings.FieldsFunc(strings.ToLower(text), func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) })
}

var stopWords = map[string]bool{}

func init() {
	for _, w := range strings.Fields("a an and are as at be by for from has have how i in is it its of on or that the this to was what when where which who why will with you your do does can") {
		stopWords[w] = true
	}
}

func normalize(v []float32) {
	var n float64
	for _, x := range v {
		n += float64(x) * float64(x)
	}
	if n == 0 {
		return
	}
	inv := float32(1 / math.Sqrt(n))
	for i := range v {
		v[i] *= inv
	}
}

// Cosine is the cosine similarity of two vectors of equal length (their
// dot product when both are unit length, as Embedders answer them).
func Cosine(a, b []float32) float32 {
	var dot, na, nb float64
	for i := range a {
		dot += float64(a[i]) * float64(b[i])
		na += float64(a[i]) * float64(a[i])
		nb += float64(b[i]) * float64(b[i])
	}
	if na == 0 || nb == 0 {
		return 0
	}
	return float32(dot / math.Sqrt(na*nb))
}
