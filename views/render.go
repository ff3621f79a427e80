package views

import (
	"bytes"
	"context"
	"sync"

	"github.com/a-h/templ"
)

// Pages and live patches are rendered into pooled buffers: a page is tens of KB of HTML, rendered
// on every load and every stream (re)connect, and the garbage of thousands of renders is what the
// idle memory of the process is made of.
var renderBufs = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// Render renders comps, in order, into a pooled buffer; hand it back with Release once written.
func Render(ctx context.Context, comps ...templ.Component) (*bytes.Buffer, error) {
	buf := renderBufs.Get().(*bytes.Buffer)
	buf.Reset()
	for _, c := range comps {
		if err := c.Render(ctx, buf); err != nil {
			Release(buf)
			return nil, err
		}
	}
	return buf, nil
}

// Release returns a buffer from Render to the pool (an outsized one is dropped).
func Release(b *bytes.Buffer) {
	if b.Cap() <= 256<<10 {
		renderBufs.Put(b)
	}
}
