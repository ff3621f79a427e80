package app

import (
	"crypto/rand"
	"encoding/hex"
	"log/slog"

	"github.com/marketing-platform/distribution/internal/channels"
	"github.com/marketing-platform/distribution/internal/config"
	"github.com/marketing-platform/distribution/internal/model"
	"github.com/marketing-platform/distribution/internal/partnersig"
	"github.com/marketing-platform/distribution/internal/simulator"
)

// newEmbeddedSimulator builds the embedded simulator (CHANNELS_CONFIG unset) and what the
// adapters share with it, fresh at every start and given to both sides: the partner-v1 secrets
// (it checks signatures exactly as a partner would), the SENS project (service id, access key
// and secret key: the SENS signature is checked too) and the Naver application's client
// credentials. The adapters speak each channel's real protocol to it
// (channels.NewEmbeddedSimulatorRegistry); it learns the stores' accounts as they publish
// (simulator.EnrollAccount).
func newEmbeddedSimulator(cfg config.Config, rules map[model.Channel]simulator.FailRule, logger *slog.Logger) (*simulator.Server, channels.EmbeddedSimulator) {
	shared := channels.EmbeddedSimulator{
		Secrets:           map[model.Channel]partnersig.Secret{},
		SENSServiceID:     "ncp:kkobizmsg:kr:0:embedded",
		SENSAccessKey:     "EMBEDDED" + randomHex(8),
		SENSSecret:        partnersig.NewSecret(),
		NaverClientID:     "embedded-" + randomHex(8),
		NaverClientSecret: channels.ClientSecret(randomHex(16)),
	}
	for _, ch := range model.AllChannels {
		shared.Secrets[ch] = partnersig.NewSecret()
	}
	sim := simulator.New(simulator.Config{Step: cfg.SimulatorStep, Fail: rules, Logger: logger, Secrets: shared.Secrets})
	sim.RegisterSENSProject(shared.SENSServiceID, shared.SENSAccessKey, shared.SENSSecret)
	shared.Enroll = func(ch model.Channel, acct channels.Account) {
		sim.EnrollAccount(ch, acct.Ref, acct.Credentials)
	}
	return sim, shared
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
