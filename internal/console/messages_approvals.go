package console

// approvalsMessages are the words of the approvals screens.
var approvalsMessages = map[string]map[string]string{
	"approvals":           {"zh-CN": "审批", "en": "Approvals"},
	"integrations":        {"zh-CN": "审批系统集成", "en": "Integrations"},
	"deliveries":          {"zh-CN": "回调投递记录", "en": "Delivery log"},
	"ap_range":            {"zh-CN": "统计范围", "en": "Range"},
	"ap_total":            {"zh-CN": "合计", "en": "Totals"},
	"ap_tasks":            {"zh-CN": "任务数", "en": "Tasks"},
	"ap_approved":         {"zh-CN": "同意", "en": "Approved"},
	"ap_rejected":         {"zh-CN": "驳回", "en": "Rejected"},
	"ap_reject_rate":      {"zh-CN": "驳回率", "en": "Reject rate"},
	"ap_median_step":      {"zh-CN": "步骤用时中位数", "en": "Median step time"},
	"ap_p90_step":         {"zh-CN": "步骤用时 P90", "en": "Step time (90th percentile)"},
	"ap_overdue":          {"zh-CN": "超时", "en": "Overdue"},
	"ap_pending":          {"zh-CN": "待处理", "en": "Pending"},
	"ap_decided":          {"zh-CN": "已处理", "en": "Decided"},
	"ap_highest_rate":     {"zh-CN": "驳回率最高的步骤", "en": "Step with the highest reject rate"},
	"ap_slowest":          {"zh-CN": "最慢的步骤", "en": "Slowest step"},
	"ap_flows":            {"zh-CN": "各流程", "en": "By flow"},
	"ap_nodes":            {"zh-CN": "各步骤", "en": "By step"},
	"ap_approvers":        {"zh-CN": "各审批人", "en": "By approver"},
	"ap_source":           {"zh-CN": "来源", "en": "Source"},
	"ap_callback_url":     {"zh-CN": "回调地址", "en": "Callback URL"},
	"ap_secrets":          {"zh-CN": "有效密钥数", "en": "Active secrets"},
	"ap_enabled":          {"zh-CN": "已启用", "en": "enabled"},
	"ap_disabled":         {"zh-CN": "已停用", "en": "disabled"},
	"ap_task":             {"zh-CN": "任务", "en": "Task"},
	"ap_attempt":          {"zh-CN": "第几次", "en": "Attempt"},
	"ap_outcome":          {"zh-CN": "结果", "en": "Outcome"},
	"ap_http":             {"zh-CN": "HTTP 状态", "en": "HTTP status"},
	"ap_duration":         {"zh-CN": "耗时", "en": "Duration"},
	"ap_next":             {"zh-CN": "下次重试", "en": "Next attempt"},
	"ap_in_flight":        {"zh-CN": "进行中", "en": "in flight"},
	"ap_replay":           {"zh-CN": "重新投递", "en": "Replay"},
	"ap_trigger_schedule": {"zh-CN": "自动", "en": "scheduled"},
	"ap_trigger_replay":   {"zh-CN": "手动重投", "en": "replay"},
}

func init() {
	register(approvalsMessages)
}
