package views

// viewsMessages is the catalogue of issue 14's measured views (key → {English, Korean}).
var viewsMessages = map[string][2]string{
	"reports.col.measured_views": {"Measured views", "실제 조회수"},
	"reports.measured_unknown":   {"Not measured yet (Instagram posts are measured for 7 days)", "아직 측정되지 않았습니다 (Instagram 게시물은 7일 동안 측정합니다)"},
	"card.measured_views":        {"Measured views", "실제 조회수"},
	"xlsx.measured_views":        {"Measured views", "실제 조회수"},
	"xlsx.measured_at":           {"Measured at", "측정 시각"},
}
