package cli

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/marketing-platform/distribution/internal/testkit/dbtest"
)

// TestAccountSetKakaoTargeting: `account set` for KAKAO takes the SENS brand message targeting
// (I, M or N) and refuses anything else, without echoing it; old credentials without targeting
// keep working; the help names the field.
func TestAccountSetKakaoTargeting(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	getenv := env(map[string]string{"DATABASE_URL": dbtest.NewURL(t), "LOG_LEVEL": "error"})
	runCmd := func(stdin string, args ...string) (string, error) {
		var out bytes.Buffer
		err := run(ctx, args, strings.NewReader(stdin), &out, getenv)
		return out.String(), err
	}
	if _, err := runCmd("", "seed"); err != nil {
		t.Fatal(err)
	}
	store := demoStores[0].ID
	for _, cred := range []string{
		`{"senderKey":"sk-1","plusFriendId":"@bakery","recipients":["01012345678"]}`,
		`{"senderKey":"sk-1","plusFriendId":"@bakery","recipients":["01012345678"],"targeting":"M"}`,
	} {
		if out, err := runCmd(cred, "account", "set", "--store", store, "--channel", "KAKAO"); err != nil || !strings.Contains(out, "connected") {
			t.Errorf("%s: %q %v", cred, out, err)
		}
	}
	for _, bad := range []string{`"F"`, `"I\r\n"`, `"\u0000"`, `""`, `true`} {
		out, err := runCmd(`{"senderKey":"sk-1","recipients":["01012345678"],"targeting":`+bad+`}`, "account", "set", "--store", store, "--channel", "KAKAO")
		if err == nil || !strings.Contains(err.Error(), "targeting") || strings.Contains(err.Error(), "sk-1") {
			t.Errorf("targeting %s: %q %v", bad, out, err)
		}
	}
	help, err := runCmd("", "help")
	if err != nil || !strings.Contains(help, `"targeting"? (I|M|N`) {
		t.Errorf("help %v: %s", err, help)
	}
}
