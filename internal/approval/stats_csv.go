package approval

import (
	"encoding/csv"
	"io"
	"strconv"

	"github.com/mportal/mportal/internal/csvcell"
)

// csvHeader are the columns of the CSV export: one row per flow (level "flow", node columns
// empty) and per node (level "node"), flows first, each in the order of the JSON answer.
var csvHeader = []string{
	"level", "flow_code", "flow_name", "node_id", "node_name", "tasks", "pending", "approved", "rejected",
	"approve_rate", "reject_rate", "median_decide_seconds", "p90_decide_seconds",
	"median_push_to_decide_seconds", "p90_push_to_decide_seconds", "via_mobile", "via_oa", "overdue",
}

// WriteCSV writes the flow and node rows of st as CSV (RFC 4180). Empty cells are durations of
// groups with no decision.
func (st *Stats) WriteCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(csvHeader); err != nil {
		return err
	}
	for _, f := range st.Flows {
		if err := cw.Write(csvRow("flow", f.FlowCode, f.FlowName, "", "", f.Metrics)); err != nil {
			return err
		}
	}
	for _, n := range st.Nodes {
		if err := cw.Write(csvRow("node", n.FlowCode, n.FlowName, n.NodeID, n.NodeName, n.Metrics)); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

func csvRow(level, flowCode, flowName, nodeID, nodeName string, m Metrics) []string {
	return []string{
		level, csvcell.Safe(flowCode), csvcell.Safe(flowName), csvcell.Safe(nodeID), csvcell.Safe(nodeName),
		strconv.Itoa(m.Tasks), strconv.Itoa(m.Pending), strconv.Itoa(m.Approved), strconv.Itoa(m.Rejected),
		ftoa(m.ApproveRate), ftoa(m.RejectRate), optional(m.MedianDecideSeconds), optional(m.P90DecideSeconds),
		optional(m.MedianPushToDecideSec), optional(m.P90PushToDecideSec),
		strconv.Itoa(m.ViaMobile), strconv.Itoa(m.ViaOA), strconv.Itoa(m.Overdue),
	}
}

func ftoa(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

func optional(f *float64) string {
	if f == nil {
		return ""
	}
	return ftoa(*f)
}
