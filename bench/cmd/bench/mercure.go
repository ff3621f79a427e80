package main

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/marketing-platform/distribution/internal/model"
)

const mercureKey = "bench-publisher-key-0123456789abcdef"

// mercureTarget starts the Mercure baseline (bench/mercure, its own module): the same ~1 KB
// fragment as the reference broadcaster, published with a HS256 publisher JWT.
func mercureTarget(o options) (fanTarget, func(), error) {
	if _, err := os.Stat(o.mercureBin); err != nil {
		return fanTarget{}, nil, errors.New("binary " + o.mercureBin + " missing")
	}
	addr := freeAddr()
	p, err := startProc("mercure", o.mercureBin, []string{"-addr", addr, "-key", mercureKey}, nil)
	if err != nil {
		return fanTarget{}, nil, err
	}
	base := "http://" + addr + "/.well-known/mercure"
	if err := waitHTTP("http://"+addr+"/", 10*time.Second); err != nil {
		p.stop()
		return fanTarget{}, nil, err
	}
	enc := base64.RawURLEncoding
	head := enc.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`))
	body := enc.EncodeToString([]byte(`{"mercure":{"publish":["*"]}}`))
	mac := hmac.New(sha256.New, []byte(mercureKey))
	mac.Write([]byte(head + "." + body))
	jwt := head + "." + body + "." + enc.EncodeToString(mac.Sum(nil))
	hc := &http.Client{}
	return fanTarget{name: "mercure", pid: p.pid(), url: base + "?topic=bench",
		publish: func(ctx context.Context, ch int) (int64, error) {
			at := time.Now().UnixMilli()
			frag := string(refPayload(string(model.AllChannels[ch]), at))
			frag = strings.TrimSuffix(strings.TrimPrefix(frag, "event: datastar-patch-elements\ndata: "), "\n\n")
			form := url.Values{"topic": {"bench"}, "data": {frag}, "type": {"datastar-patch-elements"}}
			req, _ := http.NewRequestWithContext(ctx, http.MethodPost, base, strings.NewReader(form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("Authorization", "Bearer "+jwt)
			r, err := hc.Do(req)
			if err != nil {
				return 0, err
			}
			r.Body.Close()
			if r.StatusCode != http.StatusOK {
				return 0, fmt.Errorf("mercure publish: %s", r.Status)
			}
			return at, nil
		}}, p.stop, nil
}
