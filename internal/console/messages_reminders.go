package console

// remindersMessages are the words of the approval reminder policies screen.
var remindersMessages = map[string]map[string]string{
	"reminder_policies":       {"zh-CN": "审批提醒策略", "en": "Reminder policies"},
	"rp_hint":                 {"zh-CN": "每个审批流程一条策略；0 表示关闭该项。", "en": "One policy per approval flow; 0 turns an item off."},
	"rp_set":                  {"zh-CN": "设置流程的提醒策略（同一流程会被替换）", "en": "Set a flow's policy (replaces the flow's current one)"},
	"rp_flow_code":            {"zh-CN": "流程代码", "en": "Flow code"},
	"rp_remind_after_hours":   {"zh-CN": "到达后每隔多少小时提醒", "en": "Remind every (hours after arrival)"},
	"rp_before_due_hours":     {"zh-CN": "截止前多少小时提醒", "en": "Remind before due (hours)"},
	"rp_max_reminders":        {"zh-CN": "每个任务最多提醒次数", "en": "Most reminders per task"},
	"rp_escalate_after_hours": {"zh-CN": "待办多少小时后升级", "en": "Escalate after (hours pending)"},
	"rp_escalate_to":          {"zh-CN": "升级通知（工号，逗号分隔）", "en": "Escalate to (employee numbers, comma-separated)"},
	"rp_remind_after":         {"zh-CN": "间隔提醒", "en": "Every"},
	"rp_before_due":           {"zh-CN": "截止前", "en": "Before due"},
	"rp_max":                  {"zh-CN": "最多次数", "en": "Most"},
	"rp_escalate_after":       {"zh-CN": "升级时间", "en": "Escalate after"},
	"rp_escalate_to_short":    {"zh-CN": "升级通知", "en": "Escalate to"},
}

func init() {
	register(remindersMessages)
}
