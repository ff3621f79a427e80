package views

// listMessages is the catalogue of the events list page's filters, search and pagination; same
// shape as messages: key → {English, Korean}.
var listMessages = map[string][2]string{
	"list.search_hint":  {"Event id, title, store, post URL or id", "이벤트 ID, 제목, 매장, 게시물 URL·ID"},
	"list.bad_filter":   {"Unknown filter values were ignored: %s", "알 수 없는 필터 값은 무시했습니다: %s"},
	"list.param.cursor": {"page position", "페이지 위치"},
	"list.param.size":   {"page size", "페이지 크기"},
	"list.prev":         {"← Previous page", "← 이전 페이지"},
	"list.total":        {"%d events", "이벤트 %d개"},
	"list.total_more":   {"More than %d events", "이벤트 %d개 이상"},
	"list.size":         {"Per page", "페이지당"},
	"list.size_apply":   {"Show", "보기"},
}
