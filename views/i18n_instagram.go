package views

// instagramMessages are the texts of the Instagram Graph API channel (issue 14).
var instagramMessages = map[string][2]string{
	"err.needs_reconnect": {"The store's %s account must be reconnected before %s can be retried.", "매장의 %s 계정을 다시 연결해야 %s 채널을 다시 시도할 수 있습니다."},
}
