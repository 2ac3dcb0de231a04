package search

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
)

// fakeTitan answers InvokeModel as Titan V2 does: a vector whose first
// element is the input's length, counting calls in flight.
type fakeTitan struct {
	inFlight, peak, calls atomic.Int32
	answer                func(req titanRequest) ([]byte, error)
}

func (f *fakeTitan) InvokeModel(ctx context.Context, in *bedrockruntime.InvokeModelInput, _ ...func(*bedrockruntime.Options)) (*bedrockruntime.InvokeModelOutput, error) {
	n := f.inFlight.Add(1)
	defer f.inFlight.Add(-1)
	for {
		p := f.peak.Load()
		if n <= p || f.peak.CompareAndSwap(p, n) {
			break
		}
	}
	f.calls.Add(1)
	var req titanRequest
	if err := json.Unmarshal(in.Body, &req); err != nil {
		return nil, err
	}
	if *in.ModelId != TitanV2 || !req.Normalize {
		return nil, errors.New("unexpected request")
	}
	time.Sleep(2 * time.Millisecond)
	if f.answer != nil {
		body, err := f.answer(req)
		return &bedrockruntime.InvokeModelOutput{Body: body}, err
	}
	v := make([]float32, req.Dimensions)
	v[0] = float32(len(req.InputText))
	body, _ := json.Marshal(map[string]any{"embedding": v, "inputTextTokenCount": 3})
	return &bedrockruntime.InvokeModelOutput{Body: body}, nil
}

func TestBedrockEmbedsInOrderWithBoundedParallelism(t *testing.T) {
	f := &fakeTitan{}
	b := Bedrock{Client: f, Dim: 256, Parallel: 3}
	texts := make([]string, 40)
	for i := range texts {
		texts[i] = strings.Repeat("x", i+1)
	}
	texts[7] = "  " // blank: the zero vector, no call
	vs, err := b.Embed(context.Background(), texts)
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range vs {
		want := float32(i + 1)
		if i == 7 {
			want = 0
		}
		if len(v) != 256 || v[0] != want {
			t.Fatalf("vector %d: %d dims, first %v; want %v", i, len(v), v[0], want)
		}
	}
	if f.calls.Load() != 39 || f.peak.Load() > 3 || f.peak.Load() < 2 {
		t.Fatalf("%d calls, %d at once; want 39 calls, at most 3 at once", f.calls.Load(), f.peak.Load())
	}
}

func TestBedrockFailures(t *testing.T) {
	// moto answers InvokeModel with {}: a clear error, not zero vectors.
	f := &fakeTitan{answer: func(titanRequest) ([]byte, error) { return []byte("{}"), nil }}
	if _, err := (Bedrock{Client: f}).Embed(context.Background(), []string{"a", "b"}); err == nil || !strings.Contains(err.Error(), "EMBEDDER=local") {
		t.Fatalf("empty answer: %v", err)
	}
	// The first failure stops the calls not yet made.
	boom := &fakeTitan{answer: func(titanRequest) ([]byte, error) { return nil, errors.New("throttled") }}
	texts := make([]string, 100)
	for i := range texts {
		texts[i] = "t"
	}
	if _, err := (Bedrock{Client: boom, Parallel: 2}).Embed(context.Background(), texts); err == nil || !strings.Contains(err.Error(), "throttled") {
		t.Fatalf("failure: %v", err)
	}
	if boom.calls.Load() > 10 {
		t.Fatalf("%d calls after the first failure", boom.calls.Load())
	}
	// Over-long input is cut to Titan's limit.
	long := &fakeTitan{}
	vs, err := (Bedrock{Client: long}).Embed(context.Background(), []string{strings.Repeat("é", titanMaxChars+10)})
	if err != nil || vs[0][0] != float32(len(strings.Repeat("é", titanMaxChars))) {
		t.Fatalf("long input: %v %v", err, vs)
	}
}

func TestNewEmbedder(t *testing.T) {
	if e, err := NewEmbedder("", 1024, nil); err != nil || e.Dimensions() != 1024 {
		t.Fatalf("default: %v %v", e, err)
	}
	if _, ok := mustEmbedder(t, "local", 512).(Local); !ok {
		t.Fatal("local is not Local")
	}
	if e, err := NewEmbedder("bedrock", 1024, &fakeTitan{}); err != nil || e.(Bedrock).Dimensions() != 1024 {
		t.Fatalf("bedrock: %v %v", e, err)
	}
	for _, bad := range []struct {
		kind string
		dims int
	}{{"bedrock", 300}, {"openai", 512}} {
		if _, err := NewEmbedder(bad.kind, bad.dims, &fakeTitan{}); err == nil {
			t.Fatalf("%v accepted", bad)
		}
	}
	if _, err := NewEmbedder("bedrock", 1024, nil); err == nil {
		t.Fatal("bedrock without a client accepted")
	}
}

func mustEmbedder(t *testing.T, kind string, dims int) Embedder {
	e, err := NewEmbedder(kind, dims, nil)
	if err != nil {
		t.Fatal(err)
	}
	return e
}
