package approval

import (
	"cmp"
	"math"
	"slices"
	"time"
)

// statRow is one task as the statistics see it.
type statRow struct {
	flowCode, flowName string
	nodeID, nodeName   string
	approver           string // employee_no of the approver the task is (now) assigned to
	outcome            string // decisionApproved, decisionRejected, "pending" or "closed"
	createdAt          time.Time
	dueAt              *time.Time
	decidedAt          *time.Time
	pushedAt           *time.Time // when the approver was notified (the push was enqueued)
	via                string     // "mobile" or "oa" for decided tasks
}

// Outcomes of a task in the statistics.
const (
	statApproved = "approved"
	statRejected = "rejected"
	statPending  = "pending"
	statClosed   = "closed" // withdrawn, transferred or done without a decision of its approver
)

// Metrics are the numbers of one flow, one node of a flow, or all flows. Rates are over the
// decided tasks (approved + rejected); durations are in seconds, nearest-rank percentiles (no
// interpolation: the median of 1, 2, 3, 4 is 2), and absent when nothing was decided.
type Metrics struct {
	Tasks                 int      `json:"tasks"`
	Pending               int      `json:"pending"`
	Approved              int      `json:"approved"`
	Rejected              int      `json:"rejected"`
	ApproveRate           float64  `json:"approve_rate"`
	RejectRate            float64  `json:"reject_rate"`
	MedianDecideSeconds   *float64 `json:"median_decide_seconds"`
	P90DecideSeconds      *float64 `json:"p90_decide_seconds"`
	MedianPushToDecideSec *float64 `json:"median_push_to_decide_seconds"`
	P90PushToDecideSec    *float64 `json:"p90_push_to_decide_seconds"`
	ViaMobile             int      `json:"via_mobile"`
	ViaOA                 int      `json:"via_oa"`
	Overdue               int      `json:"overdue"`
}

// metricsAcc accumulates the rows of one group.
type metricsAcc struct {
	m              Metrics
	decide, pushed []float64
}

func (a *metricsAcc) add(r statRow, now time.Time) {
	a.m.Tasks++
	switch r.outcome {
	case statApproved:
		a.m.Approved++
	case statRejected:
		a.m.Rejected++
	case statPending:
		a.m.Pending++
	}
	decided := r.outcome == statApproved || r.outcome == statRejected
	if decided && r.decidedAt != nil {
		a.decide = append(a.decide, r.decidedAt.Sub(r.createdAt).Seconds())
		if r.pushedAt != nil && !r.decidedAt.Before(*r.pushedAt) {
			a.pushed = append(a.pushed, r.decidedAt.Sub(*r.pushedAt).Seconds())
		}
		switch r.via {
		case "mobile":
			a.m.ViaMobile++
		default:
			a.m.ViaOA++
		}
	}
	if r.dueAt != nil {
		end := now
		if r.decidedAt != nil {
			end = *r.decidedAt
		}
		if (decided || r.outcome == statPending) && end.After(*r.dueAt) {
			a.m.Overdue++
		}
	}
}

func (a *metricsAcc) result() Metrics {
	m := a.m
	if d := m.Approved + m.Rejected; d > 0 {
		m.ApproveRate = round4(float64(m.Approved) / float64(d))
		m.RejectRate = round4(float64(m.Rejected) / float64(d))
	}
	m.MedianDecideSeconds = percentile(a.decide, 0.5)
	m.P90DecideSeconds = percentile(a.decide, 0.9)
	m.MedianPushToDecideSec = percentile(a.pushed, 0.5)
	m.P90PushToDecideSec = percentile(a.pushed, 0.9)
	return m
}

func round4(f float64) float64 { return math.Round(f*10000) / 10000 }

// percentile is the nearest-rank p-th percentile of xs (which it sorts): the smallest value with
// at least p of the values at or below it. It is nil for no values.
func percentile(xs []float64, p float64) *float64 {
	if len(xs) == 0 {
		return nil
	}
	slices.Sort(xs)
	i := int(math.Ceil(p*float64(len(xs)))) - 1
	v := xs[max(0, min(i, len(xs)-1))]
	return &v
}

// NodeStats are the metrics of one node (step) of one flow.
type NodeStats struct {
	FlowCode string `json:"flow_code"`
	FlowName string `json:"flow_name"`
	NodeID   string `json:"node_id"`
	NodeName string `json:"node_name"`
	Metrics
}

// FlowStats are the metrics of one flow over all its nodes.
type FlowStats struct {
	FlowCode string `json:"flow_code"`
	FlowName string `json:"flow_name"`
	Metrics
}

// ApproverStats are one approver's pending tasks now and how fast they decided in the range.
type ApproverStats struct {
	EmployeeNo          string   `json:"employee_no"`
	PendingNow          int      `json:"pending_now"`
	Decided             int      `json:"decided"`
	MedianDecideSeconds *float64 `json:"median_decide_seconds"`
}

// NodeRef names one node of one flow, with the figure that singled it out.
type NodeRef struct {
	FlowCode string  `json:"flow_code"`
	NodeID   string  `json:"node_id"`
	NodeName string  `json:"node_name"`
	Value    float64 `json:"value"`
}

// Stats are the approval statistics of the tasks created in [From, To).
type Stats struct {
	From      time.Time       `json:"from"`
	To        time.Time       `json:"to"`
	Total     Metrics         `json:"total"`
	Flows     []FlowStats     `json:"flows"`
	Nodes     []NodeStats     `json:"nodes"`
	Approvers []ApproverStats `json:"approvers"`
	// HighestRejectRate is the node with the highest reject rate among those with at least
	// MinDecidedForRanking decisions; Slowest the one with the highest median time to decide.
	HighestRejectRate *NodeRef `json:"highest_reject_rate"`
	Slowest           *NodeRef `json:"slowest"`
}

// MinDecidedForRanking keeps a node with one rejected task out of the "highest reject rate"
// answer: a node needs this many decisions to be ranked.
const MinDecidedForRanking = 5

// computeStats groups rows (the tasks created in the range) by flow, node and approver.
// pendingNow counts every approver's pending tasks now, whenever they were created.
func computeStats(from, to, now time.Time, rows []statRow, pendingNow map[string]int) *Stats {
	type nodeKey struct{ flow, node string }
	total := &metricsAcc{}
	flows, nodes := map[string]*metricsAcc{}, map[nodeKey]*metricsAcc{}
	flowNames, nodeNames := map[string]string{}, map[nodeKey]string{}
	approvers := map[string][]float64{}
	for _, r := range rows {
		total.add(r, now)
		k := nodeKey{r.flowCode, r.nodeID}
		if flows[r.flowCode] == nil {
			flows[r.flowCode] = &metricsAcc{}
		}
		if nodes[k] == nil {
			nodes[k] = &metricsAcc{}
		}
		flows[r.flowCode].add(r, now)
		nodes[k].add(r, now)
		flowNames[r.flowCode], nodeNames[k] = r.flowName, r.nodeName
		if (r.outcome == statApproved || r.outcome == statRejected) && r.decidedAt != nil {
			approvers[r.approver] = append(approvers[r.approver], r.decidedAt.Sub(r.createdAt).Seconds())
		}
	}
	st := &Stats{From: from, To: to, Total: total.result(), Flows: []FlowStats{}, Nodes: []NodeStats{}, Approvers: []ApproverStats{}}
	for code, a := range flows {
		st.Flows = append(st.Flows, FlowStats{FlowCode: code, FlowName: flowNames[code], Metrics: a.result()})
	}
	slices.SortFunc(st.Flows, func(a, b FlowStats) int { return cmp.Compare(a.FlowCode, b.FlowCode) })
	for k, a := range nodes {
		st.Nodes = append(st.Nodes, NodeStats{FlowCode: k.flow, FlowName: flowNames[k.flow], NodeID: k.node,
			NodeName: nodeNames[k], Metrics: a.result()})
	}
	slices.SortFunc(st.Nodes, func(a, b NodeStats) int {
		return cmp.Or(cmp.Compare(a.FlowCode, b.FlowCode), cmp.Compare(a.NodeID, b.NodeID))
	})
	for emp := range pendingNow {
		if _, ok := approvers[emp]; !ok {
			approvers[emp] = nil
		}
	}
	for emp, times := range approvers {
		st.Approvers = append(st.Approvers, ApproverStats{EmployeeNo: emp, PendingNow: pendingNow[emp],
			Decided: len(times), MedianDecideSeconds: percentile(times, 0.5)})
	}
	slices.SortFunc(st.Approvers, func(a, b ApproverStats) int {
		return cmp.Or(cmp.Compare(b.PendingNow, a.PendingNow), cmp.Compare(a.EmployeeNo, b.EmployeeNo))
	})
	for _, n := range st.Nodes {
		if n.Approved+n.Rejected >= MinDecidedForRanking &&
			(st.HighestRejectRate == nil || n.RejectRate > st.HighestRejectRate.Value) {
			st.HighestRejectRate = &NodeRef{FlowCode: n.FlowCode, NodeID: n.NodeID, NodeName: n.NodeName, Value: n.RejectRate}
		}
		if n.MedianDecideSeconds != nil && (st.Slowest == nil || *n.MedianDecideSeconds > st.Slowest.Value) {
			st.Slowest = &NodeRef{FlowCode: n.FlowCode, NodeID: n.NodeID, NodeName: n.NodeName, Value: *n.MedianDecideSeconds}
		}
	}
	return st
}
