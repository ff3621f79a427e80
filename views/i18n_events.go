package views

// eventEditMessages is the catalogue of editing, duplicating and deleting events and of event
// images (event_edit.templ). Same shape as messages: key → {English, Korean}.
var eventEditMessages = map[string][2]string{
	"event.actions":         {"Event actions", "이벤트 작업"},
	"event.edit":            {"Edit event", "이벤트 수정"},
	"event.edit_note":       {"An event can be edited until its distribution starts.", "배포가 시작되기 전까지 이벤트를 수정할 수 있습니다."},
	"event.save":            {"Save changes", "변경 사항 저장"},
	"event.duplicate":       {"Duplicate", "복제"},
	"event.delete":          {"Delete event", "이벤트 삭제"},
	"event.delete_confirm":  {"Delete this event?", "이 이벤트를 삭제할까요?"},
	"event.delete_note":     {"It has never been distributed. Deleting it cannot be undone.", "아직 배포하지 않은 이벤트입니다. 삭제하면 되돌릴 수 없습니다."},
	"event.delete_yes":      {"Delete", "삭제"},
	"event.delete_no":       {"Keep it", "삭제 안 함"},
	"flash.updated":         {"Event saved.", "이벤트를 저장했습니다."},
	"flash.duplicated":      {"Event duplicated. This is the copy.", "이벤트를 복제했습니다. 지금 보는 것이 사본입니다."},
	"flash.deleted":         {"Event deleted.", "이벤트를 삭제했습니다."},
	"action.event_started":  {"This event's distribution has started: it can no longer be edited or deleted.", "배포가 시작된 이벤트는 수정하거나 삭제할 수 없습니다."},
	"event.image_hint":      {"https images are previewed; http addresses are kept as links.", "https 이미지는 미리 보여 주고, http 주소는 링크로만 보여 줍니다."},
	"event.image_preview":   {"Preview of the image", "이미지 미리보기"},
	"event.image_alt":       {"The event's image", "이벤트 이미지"},
	"event.image_http_note": {"Not shown: only https images are loaded.", "https 이미지만 불러오므로 표시하지 않았습니다."},
}

// tokenCopyMessages are the tokens page's copy button and status texts (tokens_copy.templ).
var tokenCopyMessages = map[string][2]string{
	"tokens.copy":        {"Copy", "복사"},
	"tokens.copied":      {"Copied to the clipboard.", "클립보드에 복사했습니다."},
	"tokens.copy_select": {"The token is selected: press Ctrl+C (⌘C on a Mac) to copy it.", "토큰을 선택했습니다. Ctrl+C(Mac은 ⌘C)를 눌러 복사하세요."},
}

// bulkPickMessages are the bulk retry preview's list of channels (retries_select.templ).
var bulkPickMessages = map[string][2]string{
	"retries.pick":          {"Channels to retry", "재시도할 채널"},
	"retries.pick_note":     {"Only the checked channels are retried.", "선택한 채널만 재시도합니다."},
	"retries.col.retry":     {"Retry", "재시도"},
	"retries.col.event":     {"Event", "이벤트"},
	"retries.col.channel":   {"Channel", "채널"},
	"retries.col.error":     {"Error", "오류"},
	"retries.col.when":      {"Failed at", "실패 시각"},
	"retries.none_selected": {"No channel is checked: check the channels to retry.", "선택한 채널이 없습니다. 재시도할 채널을 선택하세요."},
	"retries.see_events":    {"See the events being retried →", "재시도 중인 이벤트 보기 →"},
}
