package console

// feedbackMessages are the words of the feedback triage screens.
var feedbackMessages = map[string]map[string]string{
	"feedback":         {"zh-CN": "反馈", "en": "Feedback"},
	"feedback_item":    {"zh-CN": "反馈详情", "en": "Feedback item"},
	"fb_filters":       {"zh-CN": "筛选反馈", "en": "Filter feedback"},
	"fb_any":           {"zh-CN": "全部", "en": "Any"},
	"fb_category":      {"zh-CN": "类别", "en": "Category"},
	"fb_app":           {"zh-CN": "应用", "en": "App"},
	"fb_from":          {"zh-CN": "起始日期", "en": "From"},
	"fb_to":            {"zh-CN": "截止日期（含）", "en": "To (included)"},
	"fb_apply":         {"zh-CN": "应用筛选", "en": "Apply"},
	"fb_first_page":    {"zh-CN": "第一页", "en": "First page"},
	"fb_next_page":     {"zh-CN": "下一页", "en": "Next page"},
	"fb_received":      {"zh-CN": "收到时间", "en": "Received"},
	"fb_text":          {"zh-CN": "内容", "en": "Text"},
	"fb_author":        {"zh-CN": "提交人", "en": "Author"},
	"fb_me_too":        {"zh-CN": "同问", "en": "Me too"},
	"fb_comments":      {"zh-CN": "评论", "en": "Comments"},
	"fb_assignee":      {"zh-CN": "负责人", "en": "Assignee"},
	"fb_unassigned":    {"zh-CN": "未分配", "en": "Unassigned"},
	"fb_back":          {"zh-CN": "返回反馈列表", "en": "Back to the feedback list"},
	"fb_device":        {"zh-CN": "设备", "en": "Device"},
	"fb_location":      {"zh-CN": "位置", "en": "Location"},
	"fb_resolution":    {"zh-CN": "处理结果", "en": "Resolution"},
	"fb_duplicate_of":  {"zh-CN": "重复于", "en": "Duplicate of"},
	"fb_photos":        {"zh-CN": "照片", "en": "Photos"},
	"fb_photo":         {"zh-CN": "照片", "en": "Photo"},
	"fb_photo_pending": {"zh-CN": "上传中", "en": "still uploading"},
	"fb_photo_failed":  {"zh-CN": "上传失败", "en": "upload failed"},
	"fb_conversation":  {"zh-CN": "对话", "en": "Conversation"},
	"fb_ops":           {"zh-CN": "运维", "en": "ops"},
	"fb_reply":         {"zh-CN": "回复提交人", "en": "Reply to the author"},
	"fb_send_reply":    {"zh-CN": "发送回复", "en": "Send reply"},
	"fb_triage":        {"zh-CN": "处理", "en": "Triage"},
	"fb_save":          {"zh-CN": "保存", "en": "Save"},
	"fb_merge_into":    {"zh-CN": "合并到反馈（编号）", "en": "Merge as duplicate of (feedback id)"},
	"fb_merge":         {"zh-CN": "标记为重复", "en": "Mark duplicate"},
	// Statuses and categories, as "fb_" + the value.
	"fb_new":          {"zh-CN": "新建", "en": "new"},
	"fb_acknowledged": {"zh-CN": "已确认", "en": "acknowledged"},
	"fb_in_progress":  {"zh-CN": "处理中", "en": "in progress"},
	"fb_resolved":     {"zh-CN": "已解决", "en": "resolved"},
	"fb_wont_fix":     {"zh-CN": "不处理", "en": "won't fix"},
	"fb_duplicate":    {"zh-CN": "重复", "en": "duplicate"},
	"fb_bug":          {"zh-CN": "故障", "en": "bug"},
	"fb_suggestion":   {"zh-CN": "建议", "en": "suggestion"},
	"fb_question":     {"zh-CN": "疑问", "en": "question"},
	"fb_incident":     {"zh-CN": "事故", "en": "incident"},
}

func init() {
	for k, v := range feedbackMessages {
		messages[k] = v
	}
}
