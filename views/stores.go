package views

import (
	"time"

	"github.com/marketing-platform/distribution/internal/model"
)

// How a store's channel account can be connected from its page.
const (
	ConnectOAuth = "oauth" // the platform's authorization-code flow (Instagram, Naver)
	ConnectKakao = "kakao" // the dealer's fields, entered on the page (KakaoTalk: no OAuth)
	ConnectCLI   = "cli"   // no OAuth application configured: `account set` only
)

// accountExpiringWithin is how close to its expiry an account shows as expiring (db.ExpiringWithin).
const accountExpiringWithin = 7 * 24 * time.Hour

// StoresView is the /stores page.
type StoresView struct {
	Stores []model.Store
	Flash  Flash
	Error  string
}

// StoreChannel is one channel's account section on a store's page.
type StoreChannel struct {
	Channel model.Channel
	Account *model.ChannelAccount // nil: never connected
	Connect string                // ConnectOAuth, ConnectKakao or ConnectCLI
	// ClubID and MenuID prefill the Naver board fields (the current account's, or what was sent).
	ClubID, MenuID string
}

// StoreView is the /stores/{id} page.
type StoreView struct {
	Store    model.Store
	Channels []StoreChannel
	Flash    Flash
	Error    string
}

// AccountChannels are the channels whose stores publish as their own accounts, in display order.
func AccountChannels() []model.Channel {
	var out []model.Channel
	for _, ch := range model.AllChannels {
		if model.AccountChannel(ch) {
			out = append(out, ch)
		}
	}
	return out
}

// AccountStatusAt is the status an account is shown with at now: disconnected without one; a
// connected account past its expiry needs reconnecting and one near it is expiring.
func AccountStatusAt(a *model.ChannelAccount, now time.Time) model.AccountStatus {
	switch {
	case a == nil:
		return model.AccountDisconnected
	case a.Status == model.AccountConnected || a.Status == model.AccountExpiring:
		if a.ExpiresAt != nil && !a.ExpiresAt.After(now) {
			return model.AccountNeedsReconnect
		}
		if a.ExpiresAt != nil && a.ExpiresAt.Sub(now) < accountExpiringWithin {
			return model.AccountExpiring
		}
		return model.AccountConnected
	}
	return a.Status
}

// storeAccount returns s's account on ch, or nil.
func storeAccount(s model.Store, ch model.Channel) *model.ChannelAccount {
	for i := range s.Accounts {
		if s.Accounts[i].Channel == ch {
			return &s.Accounts[i]
		}
	}
	return nil
}

// StoreURL is the page of store id.
func StoreURL(id string) string { return "/stores/" + id }

// AccountActionURL is the form action of act ("connect", "disconnect") on store id's channel ch.
func AccountActionURL(id string, ch model.Channel, act string) string {
	return "/stores/" + id + "/channels/" + string(ch) + "/" + act
}

func statusChipClass(s model.AccountStatus) string {
	base := "inline-block whitespace-nowrap rounded-full px-2 py-0.5 text-xs font-medium "
	switch s {
	case model.AccountConnected:
		return base + "bg-emerald-100 text-emerald-900 dark:bg-emerald-900 dark:text-emerald-100"
	case model.AccountExpiring:
		return base + "bg-amber-100 text-amber-900 dark:bg-amber-900 dark:text-amber-100"
	case model.AccountNeedsReconnect:
		return base + "bg-red-100 text-red-900 dark:bg-red-900 dark:text-red-100"
	}
	return base + "bg-gray-100 text-gray-800 dark:bg-gray-800 dark:text-gray-200"
}

// accountLive reports whether a has credentials (anything but disconnected).
func accountLive(a *model.ChannelAccount) bool {
	return a != nil && a.Status != model.AccountDisconnected
}

func cliHint(storeID string, ch model.Channel) string {
	return "bin/distribution account set --store " + storeID + " --channel " + string(ch) + " < credentials.json"
}
