package simulator_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/marketing-platform/distribution/internal/model"
	"github.com/marketing-platform/distribution/internal/simulator"
)

// failCase is a SIMULATOR_FAIL item and the rule it must parse to.
type failCase struct {
	in   string
	want simulator.FailRule
}

// wantFailRules checks that each good item parses to its rule for ch and survives a FormatFail
// round trip, and that every bad item is refused.
func wantFailRules(t *testing.T, ch model.Channel, good []failCase, bad []string) {
	t.Helper()
	for _, tc := range good {
		rules, err := simulator.ParseFail(tc.in)
		if err != nil || rules[ch] != tc.want {
			t.Errorf("ParseFail(%q) = %+v, %v; want %+v", tc.in, rules[ch], err, tc.want)
			continue
		}
		if again, err := simulator.ParseFail(simulator.FormatFail(rules)); err != nil || again[ch] != tc.want {
			t.Errorf("FormatFail round trip of %q = %+v, %v", tc.in, again, err)
		}
	}
	for _, b := range bad {
		if _, err := simulator.ParseFail(b); err == nil {
			t.Errorf("ParseFail(%q) accepted", b)
		}
	}
}

func TestParseFailInstagramGraph(t *testing.T) {
	t.Parallel()
	wantFailRules(t, model.ChannelInstagram, []failCase{
		{"INSTAGRAM=190", simulator.FailRule{First: 190, Graph: "190"}},
		{"instagram=613x2", simulator.FailRule{Graph: "613x2"}},
		{"INSTAGRAM=container-error", simulator.FailRule{Graph: "container-error"}},
		{"INSTAGRAM=Publish-Lost", simulator.FailRule{Graph: "publish-lost"}},
		{"INSTAGRAM=3", simulator.FailRule{First: 3}}, // a plain count keeps its meaning
		{"INSTAGRAM=always", simulator.FailRule{Always: true}},
	}, []string{"INSTAGRAM=613x0", "INSTAGRAM=613x", "INSTAGRAM=999x2", "INSTAGRAM=613x2x2", "KAKAO=container-error", "KAKAO=613x2", "INSTAGRAM=publish-lost\x00"})
}

// TestInstagramGraphWire: the emulation's answers as Meta documents them, over HTTP.
func TestInstagramGraphWire(t *testing.T) {
	t.Parallel()
	sim := simulator.New(simulator.Config{})
	ts := httptest.NewServer(sim.Handler())
	t.Cleanup(ts.Close)
	sim.RegisterInstagramAccount("178", "tok")
	post := func(path string, form url.Values) (int, map[string]any) {
		res, err := http.PostForm(ts.URL+path, form)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var v map[string]any
		b, _ := io.ReadAll(res.Body)
		json.Unmarshal(b, &v)
		return res.StatusCode, v
	}
	get := func(path string) (int, map[string]any) {
		res, err := http.Get(ts.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var v map[string]any
		b, _ := io.ReadAll(res.Body)
		json.Unmarshal(b, &v)
		return res.StatusCode, v
	}
	code, v := post("/v23.0/178/media", url.Values{"image_url": {"https://img.example/a.jpg"}, "caption": {"hi"}, "access_token": {"bad"}})
	if e, _ := v["error"].(map[string]any); code != 400 || e["code"] != float64(190) || e["type"] != "OAuthException" || e["fbtrace_id"] == "" {
		t.Errorf("bad token: %d %v", code, v)
	}
	code, v = post("/v23.0/178/media", url.Values{"image_url": {"https://img.example/a.jpg"}, "caption": {"hi"}, "access_token": {"tok"}})
	id, _ := v["id"].(string)
	if code != 200 || id == "" {
		t.Fatalf("create container: %d %v", code, v)
	}
	// Not ready yet: media_publish refuses an IN_PROGRESS container.
	if code, v = post("/v23.0/178/media_publish", url.Values{"creation_id": {id}, "access_token": {"tok"}}); code != 400 {
		t.Errorf("publish before FINISHED: %d %v", code, v)
	}
	var statuses []string
	for range simulator.IGPollsToFinish + 1 {
		_, v = get("/v23.0/" + id + "?fields=status_code,status&access_token=tok")
		statuses = append(statuses, v["status_code"].(string))
	}
	if strings.Join(statuses, ",") != "IN_PROGRESS,IN_PROGRESS,FINISHED" {
		t.Errorf("statuses %v", statuses)
	}
	code, v = post("/v23.0/178/media_publish", url.Values{"creation_id": {id}, "access_token": {"tok"}})
	media, _ := v["id"].(string)
	if code != 200 || media == "" || sim.InstagramPosts("178") != 1 {
		t.Fatalf("publish: %d %v", code, v)
	}
	if _, v = get("/v23.0/" + id + "?fields=status_code&access_token=tok"); v["status_code"] != "PUBLISHED" {
		t.Errorf("container after publish: %v", v)
	}
	if _, v = get("/v23.0/" + media + "?fields=permalink&access_token=tok"); !strings.HasPrefix(v["permalink"].(string), "https://www.instagram.com/p/") {
		t.Errorf("media: %v", v)
	}
	if _, v = get("/v23.0/178/content_publishing_limit?access_token=tok"); !strings.Contains(toJSON(v), `"quota_usage":1`) {
		t.Errorf("limit: %v", v)
	}
	// The partner protocol still answers beside the Graph routes.
	if code, _ = get("/v1/channels/KAKAO/publications/nope"); code != 404 {
		t.Errorf("partner poll: %d", code)
	}
}

func toJSON(v any) string { b, _ := json.Marshal(v); return string(b) }

// TestInstagramAdminAccount: the standalone simulator learns accounts over its admin endpoint.
func TestInstagramAdminAccount(t *testing.T) {
	t.Parallel()
	sim := simulator.New(simulator.Config{})
	ts := httptest.NewServer(sim.Handler())
	t.Cleanup(ts.Close)
	put := func(body string) int {
		req, _ := http.NewRequest(http.MethodPut, ts.URL+"/_admin/instagram/accounts", strings.NewReader(body))
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	for _, bad := range []string{``, `{}`, `{"igUserId":"1"}`, `{"igUserId":"1","accessToken":"t","x":1}`, `[1]`} {
		if code := put(bad); code != http.StatusBadRequest {
			t.Errorf("PUT %q = %d, want 400", bad, code)
		}
	}
	if code := put(`{"igUserId":"99","accessToken":"tok-99"}`); code != http.StatusNoContent {
		t.Fatalf("PUT account = %d", code)
	}
	res, err := http.PostForm(ts.URL+"/v23.0/99/media", url.Values{"image_url": {"https://img.example/a.jpg"}, "access_token": {"tok-99"}})
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK || sim.InstagramContainers("99") != 1 {
		t.Errorf("create container with the registered token = %d", res.StatusCode)
	}
}
