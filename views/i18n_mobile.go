package views

// mobileMessages is the catalogue of the small-screen menu and the dismissable flash.
// Same shape as messages: key → {English, Korean}.
var mobileMessages = map[string][2]string{
	"nav.menu":      {"Menu", "메뉴"},
	"flash.dismiss": {"Dismiss this message", "알림 닫기"},
}
