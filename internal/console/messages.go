package console

import (
	"fmt"

	"github.com/mportal/mportal/internal/i18n"
)

// messages are the console's words by key, in every locale of i18n.Locales.
var messages = map[string]map[string]string{
	"console":                {"zh-CN": "运维控制台", "en": "Ops console"},
	"skip":                   {"zh-CN": "跳到正文", "en": "Skip to content"},
	"sign_in":                {"zh-CN": "登录", "en": "Sign in"},
	"sign_out":               {"zh-CN": "退出登录", "en": "Sign out"},
	"login":                  {"zh-CN": "工号", "en": "Employee number"},
	"password":               {"zh-CN": "密码", "en": "Password"},
	"dashboard":              {"zh-CN": "概览", "en": "Dashboard"},
	"users":                  {"zh-CN": "用户", "en": "Users"},
	"audit":                  {"zh-CN": "审计日志", "en": "Audit log"},
	"export_csv":             {"zh-CN": "导出 CSV", "en": "Export CSV"},
	"denied":                 {"zh-CN": "无权访问", "en": "Not allowed"},
	"denied_text":            {"zh-CN": "控制台仅供运维和管理员使用。", "en": "The console is for ops and admins only."},
	"wrong_password":         {"zh-CN": "工号或密码错误。", "en": "Wrong employee number or password."},
	"too_many":               {"zh-CN": "尝试次数过多，请稍后再试。", "en": "Too many attempts; try again later."},
	"form_expired":           {"zh-CN": "表单已过期，请重新提交。", "en": "The form has expired; submit it again."},
	"change_password_title":  {"zh-CN": "修改密码", "en": "Change password"},
	"change_password_first":  {"zh-CN": "您使用的是一次性密码，请先设置新密码。", "en": "You signed in with a one-time password: choose a new password first."},
	"change_password_button": {"zh-CN": "修改密码", "en": "Change password"},
	"change_password_note":   {"zh-CN": "修改后您的其他会话将结束，请用新密码重新登录。", "en": "Your other sessions end; afterwards you sign in again with the new password."},
	"current_password":       {"zh-CN": "当前密码", "en": "Current password"},
	"new_password":           {"zh-CN": "新密码", "en": "New password"},
	"new_password_hint":      {"zh-CN": "至少 %d 个字符。", "en": "At least %d characters."},
	"new_password_again":     {"zh-CN": "再次输入新密码", "en": "New password again"},
	"password_changed":       {"zh-CN": "密码已修改，请用新密码登录。", "en": "Your password has been changed; sign in with the new one."},
	"session_ended":          {"zh-CN": "会话已结束，请重新登录。", "en": "Your session has ended; sign in again."},
	"saved":                  {"zh-CN": "已保存。", "en": "Saved."},
	"signed_in_as":           {"zh-CN": "当前用户", "en": "Signed in as"},
	"roles":                  {"zh-CN": "角色", "en": "Roles"},
	"apps":                   {"zh-CN": "应用", "en": "Apps"},
	"users_total":            {"zh-CN": "用户数（本页）", "en": "Users (this page)"},
	"name":                   {"zh-CN": "姓名", "en": "Name"},
	"department":             {"zh-CN": "部门", "en": "Department"},
	"status":                 {"zh-CN": "状态", "en": "Status"},
	"actions":                {"zh-CN": "操作", "en": "Actions"},
	"disable":                {"zh-CN": "停用", "en": "Disable"},
	"enable":                 {"zh-CN": "启用", "en": "Enable"},
	"search":                 {"zh-CN": "搜索", "en": "Search"},
	"active":                 {"zh-CN": "正常", "en": "active"},
	"disabled":               {"zh-CN": "已停用", "en": "disabled"},
	"at":                     {"zh-CN": "时间", "en": "When"},
	"actor":                  {"zh-CN": "操作人", "en": "Who"},
	"action":                 {"zh-CN": "操作", "en": "What"},
	"target":                 {"zh-CN": "对象", "en": "Object"},
	"before":                 {"zh-CN": "之前", "en": "Before"},
	"after":                  {"zh-CN": "之后", "en": "After"},
	"nothing":                {"zh-CN": "暂无记录。", "en": "Nothing yet."},
	"main_menu":              {"zh-CN": "主菜单", "en": "Main menu"},
	"install_page":           {"zh-CN": "安装页", "en": "Install page"},
	"track":                  {"zh-CN": "平台 / 渠道", "en": "Platform / channel"},
	"build":                  {"zh-CN": "构建", "en": "Build"},
	"state":                  {"zh-CN": "状态", "en": "State"},
	"percent":                {"zh-CN": "比例", "en": "Rollout"},
	"raise_to":               {"zh-CN": "提高到 (%)", "en": "Raise to (%)"},
	"raise":                  {"zh-CN": "提高", "en": "Raise"},
	"halt":                   {"zh-CN": "暂停", "en": "Halt"},
	"resume":                 {"zh-CN": "恢复", "en": "Resume"},
	"complete":               {"zh-CN": "全量", "en": "Complete"},
	"app":                    {"zh-CN": "应用", "en": "App"},
	"no":                     {"zh-CN": "否", "en": "no"},
	"yes":                    {"zh-CN": "是", "en": "yes"},
	"platform":               {"zh-CN": "平台", "en": "Platform"},
	"save":                   {"zh-CN": "保存", "en": "Save"},
	"build_number":           {"zh-CN": "构建号", "en": "Build number"},
	"channels_summary":       {"zh-CN": "各应用的渠道与发布", "en": "Channels and releases of each app"},
}

// T returns the text of key in locale (falling back as i18n.Pick does), or the key itself when
// there is no such message.
func T(locale, key string) string {
	if s := i18n.Pick(messages[key], locale); s != "" {
		return s
	}
	return key
}

// register adds a screen's messages to messages. A key that is already there panics at start-up
// (every test of the package then fails): two screens using one key for different words would
// otherwise silently show the words of whichever file's init ran last.
func register(m map[string]map[string]string) {
	for k, v := range m {
		if _, taken := messages[k]; taken {
			panic(fmt.Sprintf("console: message key %q is defined twice", k))
		}
		messages[k] = v
	}
}
