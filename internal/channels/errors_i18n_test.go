package channels

import (
	"context"
	"strings"
	"testing"

	"github.com/marketing-platform/distribution/internal/model"
	"github.com/marketing-platform/distribution/internal/simulator"
)

// TestErrorSaysStatusOnce: an attempt's error (Error()) names the HTTP status once and the
// channel's own words once, for a live 5xx and 4xx from the simulator and for composed errors.
func TestErrorSaysStatusOnce(t *testing.T) {
	t.Parallel()
	sim, base := startSim(t, simulator.Config{})
	sim.MustInject(model.ChannelKakao, simulator.Status(503, "maintenance"))
	_, err := newSimRegistry(t, base, fastOpts()).Adapter(model.ChannelKakao).Publish(context.Background(), request("e1", model.ChannelKakao, "k"), nil)
	e := asError(t, err)
	if got := e.Error(); strings.Count(got, "503") != 1 || strings.Count(got, "maintenance") != 1 || !strings.Contains(got, "HTTP 503: maintenance") {
		t.Errorf("503 error %q: want the status and the channel's words once", got)
	}
	for _, tc := range []struct {
		e    *Error
		want string
	}{
		{&Error{HTTPStatus: 503, Message: "the channel is having problems (HTTP 503)", Detail: "HTTP 503: down"}, "the channel is having problems (HTTP 503: down)"},
		{&Error{HTTPStatus: 503, Message: "the channel is having problems (HTTP 503)", Detail: "HTTP 503"}, "the channel is having problems (HTTP 503)"},
		{&Error{HTTPStatus: 400, Message: "the channel rejected the post: bad image", Detail: "HTTP 400: bad image"}, "the channel rejected the post: bad image (HTTP 400)"},
		{&Error{HTTPStatus: 400, Message: "the channel rejected the post (HTTP 400)", Detail: "HTTP 400"}, "the channel rejected the post (HTTP 400)"},
		{&Error{HTTPStatus: 429, Message: "the channel is rate limiting requests; trying again in 30s", Detail: "HTTP 429: slow down"}, "the channel is rate limiting requests; trying again in 30s (HTTP 429: slow down)"},
		{&Error{Message: "could not reach the channel", Detail: "dial tcp: refused"}, "could not reach the channel (dial tcp: refused)"},
		{&Error{Message: "the channel failed"}, "the channel failed"},
	} {
		if got := tc.e.Error(); got != tc.want {
			t.Errorf("Error() = %q, want %q", got, tc.want)
		}
	}
}
