package alerts

import (
	"strings"
	"testing"
	"time"

	"github.com/marketing-platform/distribution/internal/model"
)

// The account alert names the store and channel, links to the store's page on PUBLIC_URL, says
// its event type, and escapes the platform's words (no @channel ping, no forged link).
func TestAccountMessage(t *testing.T) {
	t.Parallel()
	n, err := New(Config{WebhookURL: "https://hooks.example.com/x", PublicURL: "https://dist.example.com/base/"})
	if err != nil {
		t.Fatal(err)
	}
	m := n.AccountMessage(AccountArgs{StoreID: "store-1", Channel: model.ChannelInstagram, Since: time.Now(),
		Error: "<!channel> <https://evil.example|click> & token expired\r\n"})
	const link = "https://dist.example.com/base/stores/store-1"
	if m.Event != "account.needs_reconnect" || !strings.Contains(m.Text, link) || m.Blocks[1].Elements[0].URL != link {
		t.Errorf("message %+v: want the event and the store link", m)
	}
	if strings.Contains(m.Text, "<!channel>") || strings.Contains(m.Blocks[0].Text.Text, "<https://evil") ||
		!strings.Contains(m.Text, "&lt;!channel&gt;") || !strings.Contains(m.Text, "store-1") || !strings.Contains(m.Text, "INSTAGRAM") {
		t.Errorf("text %q: want the platform's words escaped", m.Text)
	}
}
