package views

// excelMessages is the catalogue of issue 15's time zone setting, the Excel export and the
// reports pagination (key → {English, Korean}).
var excelMessages = map[string][2]string{
	"zone.label":          {"Time zone", "시간대"},
	"zone.apply":          {"Set", "변경"},
	"zone.note":           {"Dates and times in", "날짜·시간 기준 시간대:"},
	"zone.bad":            {"Unknown time zone.", "알 수 없는 시간대입니다."},
	"reports.export_xlsx": {"Download Excel", "Excel 다운로드"},
	"reports.prev":        {"← Previous page", "← 이전 페이지"},
	"reports.rows_total":  {"%d rows", "전체 %d행"},
	"reports.bad_size":    {"Choose 25, 50, 100 or 200 rows per page.", "페이지당 행 수는 25, 50, 100, 200 중에서 고르세요."},
	"reports.page_size":   {"Rows per page", "페이지당 행 수"},

	// Column headers of the Excel export.
	"xlsx.too_many":        {"This report has more than %d rows, too many for one Excel file: choose a shorter range or a channel, or download the CSV.", "리포트가 %d행을 넘어 Excel 파일 하나에 담을 수 없습니다. 기간이나 채널을 좁히거나 CSV로 내려받으세요."},
	"xlsx.sheet":           {"Report", "리포트"},
	"xlsx.event":           {"Event ID", "이벤트 ID"},
	"xlsx.title":           {"Title", "제목"},
	"xlsx.channel":         {"Channel", "채널"},
	"xlsx.status":          {"Status", "상태"},
	"xlsx.post_url":        {"Post URL", "게시물 URL"},
	"xlsx.post_id":         {"Post ID", "게시물 ID"},
	"xlsx.message_id":      {"Message ID", "메시지 ID"},
	"xlsx.distribution_id": {"Distribution ID", "배포 ID"},
	"xlsx.views":           {"Estimated views", "예상 조회수"},
	"xlsx.retries":         {"Retries", "재시도 횟수"},
	"xlsx.last_error":      {"Last error", "마지막 오류"},
	"xlsx.started_at":      {"Started", "시작 시각"},
	"xlsx.completed_at":    {"Completed", "완료 시각"},
}
