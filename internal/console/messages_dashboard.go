package console

// The dashboard's words (see dashboard.html).
func init() {
	register(map[string]map[string]string{
		"as_of":                {"zh-CN": "截至", "en": "as of"},
		"dau":                  {"zh-CN": "日活 (DAU)", "en": "Daily active users"},
		"wau":                  {"zh-CN": "周活 (WAU)", "en": "Weekly active users"},
		"mau":                  {"zh-CN": "月活 (MAU)", "en": "Monthly active users"},
		"active_users":         {"zh-CN": "活跃用户", "en": "Active users"},
		"dau_30":               {"zh-CN": "最近 30 天每日活跃用户数", "en": "Daily active users, last 30 days"},
		"as_table":             {"zh-CN": "以表格查看", "en": "Show as a table"},
		"day":                  {"zh-CN": "日期", "en": "Day"},
		"adoption":             {"zh-CN": "各构建的采用率", "en": "Adoption per build"},
		"active_devices":       {"zh-CN": "台活跃设备", "en": "active devices"},
		"share":                {"zh-CN": "占比", "en": "Share"},
		"no_adoption":          {"zh-CN": "最近 7 天没有设备上报。", "en": "No device reported in the last 7 days."},
		"rollouts_in_progress": {"zh-CN": "灰度中的发布", "en": "Rollouts in progress"},
		"rollouts_caption":     {"zh-CN": "未到 100% 的活动发布及其比例", "en": "Active releases below 100% and their percentage"},
		"no_rollouts":          {"zh-CN": "没有灰度中的发布。", "en": "No rollout in progress."},
		"feedback_open":        {"zh-CN": "待处理反馈", "en": "Open feedback"},
		"feedback_backlog":     {"zh-CN": "反馈积压（按时长）", "en": "Feedback backlog by age"},
		"backlog_caption":      {"zh-CN": "未关闭反馈按已等待时长分布", "en": "Open feedback by how long it has waited"},
		"age":                  {"zh-CN": "时长", "en": "Age"},
		"open_items":           {"zh-CN": "未关闭", "en": "Open"},
		"dash_approvals":       {"zh-CN": "审批（最近 30 天）", "en": "Approvals (last 30 days)"},
		"approvals_pending":    {"zh-CN": "待审批", "en": "Pending approvals"},
		"approvals_tasks":      {"zh-CN": "审批任务", "en": "Tasks"},
		"approved":             {"zh-CN": "已同意", "en": "Approved"},
		"rejected":             {"zh-CN": "已驳回", "en": "Rejected"},
		"overdue":              {"zh-CN": "已逾期", "en": "overdue"},
		"training_completion":  {"zh-CN": "培训完成率", "en": "Training completion"},
		"training_caption":     {"zh-CN": "已发布视频的完成比例", "en": "Share of assigned employees who completed each published video"},
		"no_training":          {"zh-CN": "暂无已发布的培训视频。", "en": "No published training video yet."},
		"video":                {"zh-CN": "视频", "en": "Video"},
		"completed":            {"zh-CN": "已完成", "en": "Completed"},
		"assigned":             {"zh-CN": "应完成", "en": "Assigned"},
	})
}
