package console

// ErrorData is the console's error page (templates/error.html): the problem the API's error
// mapping made of an error, and where the back link goes.
type ErrorData struct {
	Status int
	// Code and Field are the problem's, also on the page for scripts and tests (data-code,
	// data-field).
	Code      string
	Detail    string
	Field     string
	RequestID string
	// Back is a console path: the page the request came from, or the dashboard.
	Back string
}

// HasMessage reports whether key names a message (the error page picks its title by the
// problem's code, with a general one for codes without their own).
func HasMessage(key string) bool {
	_, ok := messages[key]
	return ok
}

func init() {
	register(map[string]map[string]string{
		"error":                      {"zh-CN": "出错了", "en": "Something went wrong"},
		"err_invalid":                {"zh-CN": "请求有误", "en": "The request was not accepted"},
		"err_not_found":              {"zh-CN": "未找到", "en": "Not found"},
		"err_conflict":               {"zh-CN": "操作冲突", "en": "This cannot be done now"},
		"err_too_large":              {"zh-CN": "内容过大", "en": "Too large"},
		"err_unsupported_media_type": {"zh-CN": "不支持的格式", "en": "Unsupported format"},
		"err_forbidden":              {"zh-CN": "无权操作", "en": "Not allowed"},
		"err_rate_limited":           {"zh-CN": "请求过于频繁", "en": "Too many requests"},
		"err_unavailable":            {"zh-CN": "服务暂不可用，请稍后重试", "en": "Temporarily unavailable; try again shortly"},
		"err_internal":               {"zh-CN": "服务器内部错误", "en": "Internal error"},
		"error_status":               {"zh-CN": "状态码", "en": "Status"},
		"request_id":                 {"zh-CN": "请求编号", "en": "Request id"},
		"back":                       {"zh-CN": "返回", "en": "Back"},
	})
}
