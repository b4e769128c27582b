package console

import (
	"regexp"
	"slices"
	"sort"

	cb "github.com/buildbatch/buildbatch/internal/codebuild"
)

// The batch page's graph: the batch's build groups as nodes, dependsOn as
// edges, laid out in layers by depth (the longest chain of dependencies
// before a group) with the DOWNLOAD_SOURCE build first. The members of a
// build-matrix or build-fanout batch (build1, build2, ...) are one
// cluster: drawn as full nodes while there are few, as a grid of small
// cells past clusterCompact, so that a 256-member matrix stays one box.
// The layout is computed here; the script only draws it as SVG.

const (
	nodeW, nodeH     = 200, 58
	colGap, rowGap   = 70, 16
	margin           = 16
	clusterPad       = 10
	clusterHead      = 24
	clusterCompact   = 8 // more members than this: cells
	cellSize, cellGp = 16, 4
	cellCols         = 16
	sourceGroup      = "DOWNLOAD_SOURCE"
	clusterID        = "members"
)

type graphNode struct {
	ID            string   `json:"id"`              // the group's identifier
	Build         string   `json:"build,omitempty"` // its current build's id
	Status        string   `json:"status"`
	Phase         string   `json:"phase,omitempty"`
	Start         int64    `json:"start,omitempty"` // Unix ms
	End           int64    `json:"end,omitempty"`
	DependsOn     []string `json:"dependsOn"`
	IgnoreFailure bool     `json:"ignoreFailure,omitempty"`
	Retries       int      `json:"retries,omitempty"` // prior builds of the group
	Source        bool     `json:"source,omitempty"`  // the DOWNLOAD_SOURCE build
	Cluster       string   `json:"cluster,omitempty"`
	Compact       bool     `json:"compact,omitempty"` // drawn as a cell
	X             int      `json:"x"`
	Y             int      `json:"y"`
	W             int      `json:"w"`
	H             int      `json:"h"`
}

type graphEdge struct {
	From   string `json:"from"`
	To     string `json:"to"`
	Source bool   `json:"source,omitempty"` // from DOWNLOAD_SOURCE to a first group
	X1     int    `json:"x1"`
	Y1     int    `json:"y1"`
	X2     int    `json:"x2"`
	Y2     int    `json:"y2"`
}

type graphCluster struct {
	ID      string         `json:"id"`
	Label   string         `json:"label"`
	Members int            `json:"members"`
	Counts  map[string]int `json:"counts"`
	Compact bool           `json:"compact"`
	X       int            `json:"x"`
	Y       int            `json:"y"`
	W       int            `json:"w"`
	H       int            `json:"h"`
}

type graph struct {
	Nodes    []*graphNode    `json:"nodes"`
	Edges    []graphEdge     `json:"edges"`
	Clusters []*graphCluster `json:"clusters"`
	Width    int             `json:"width"`
	Height   int             `json:"height"`
}

var memberName = regexp.MustCompile(`^build[0-9]+$`)

// unit is what the layout places: one node, or the cluster.
type unit struct {
	key     string // node id, or "cluster:members"
	node    *graphNode
	cluster *graphCluster
	deps    []string // unit keys
	depth   int
	row     float64
	x, y    int
	w, h    int
}

// buildGraph lays out a batch's groups; kind is its plan's kind ("" when
// unknown), members its builds by id (for times and phases).
func buildGraph(b *cb.BuildBatch, kind string, members map[string]*cb.Build) *graph {
	g := &graph{Nodes: []*graphNode{}, Edges: []graphEdge{}, Clusters: []*graphCluster{}}
	for i, grp := range b.BuildGroups {
		n := &graphNode{ID: cb.Deref(grp.Identifier), Status: "PENDING", DependsOn: grp.DependsOn, IgnoreFailure: cb.Deref(grp.IgnoreFailure),
			Retries: len(grp.PriorBuildSummaryList)}
		if n.DependsOn == nil {
			n.DependsOn = []string{}
		}
		n.Source = i == 0 && n.ID == sourceGroup && grp.DependsOn == nil
		if s := grp.CurrentBuildSummary; s != nil {
			if s.BuildStatus != nil {
				n.Status = *s.BuildStatus
			}
			n.Build = idOfARN(cb.Deref(s.Arn), "build/")
			if m := members[n.Build]; m != nil {
				n.Start, n.End, n.Phase = ms(m.StartTime), ms(m.EndTime), cb.Deref(m.CurrentPhase)
			}
		}
		g.Nodes = append(g.Nodes, n)
	}
	// Cluster the members of a matrix or fanout.
	var others []*graphNode
	for _, n := range g.Nodes {
		if !n.Source {
			others = append(others, n)
		}
	}
	cluster := kind == "build-matrix" || kind == "build-fanout"
	if kind == "" && len(others) > 1 {
		cluster = true
		for _, n := range others {
			if !memberName.MatchString(n.ID) || len(n.DependsOn) > 0 {
				cluster = false
				break
			}
		}
	}
	var cl *graphCluster
	if cluster && len(others) > 0 {
		label := "matrix"
		switch kind {
		case "build-fanout":
			label = "fanout"
		case "":
			label = "members"
		}
		cl = &graphCluster{ID: clusterID, Label: label, Members: len(others), Counts: map[string]int{}, Compact: len(others) > clusterCompact}
		g.Clusters = append(g.Clusters, cl)
		for _, n := range others {
			n.Cluster = clusterID
			n.Compact = cl.Compact
			cl.Counts[n.Status]++
		}
	}
	// Units and their dependencies.
	var units []*unit
	byKey := map[string]*unit{}
	unitOf := map[string]string{} // node id → unit key
	var source *unit
	for _, n := range g.Nodes {
		if n.Cluster != "" {
			key := "cluster:" + n.Cluster
			if byKey[key] == nil {
				u := &unit{key: key, cluster: cl}
				units = append(units, u)
				byKey[key] = u
			}
			unitOf[n.ID] = key
			continue
		}
		u := &unit{key: n.ID, node: n}
		units = append(units, u)
		byKey[n.ID] = u
		unitOf[n.ID] = n.ID
		if n.Source {
			source = u
		}
	}
	for _, n := range g.Nodes {
		u := byKey[unitOf[n.ID]]
		for _, d := range n.DependsOn {
			if k, ok := unitOf[d]; ok && k != u.key && !slices.Contains(u.deps, k) {
				u.deps = append(u.deps, k)
			}
		}
	}
	// Depth: the longest chain of dependencies, after DOWNLOAD_SOURCE.
	first := 0
	if source != nil {
		first = 1
	}
	state := map[string]int{} // 1 visiting, 2 done
	var depth func(u *unit) int
	depth = func(u *unit) int {
		if state[u.key] == 2 || state[u.key] == 1 {
			return u.depth
		}
		state[u.key] = 1
		u.depth = first
		if u == source {
			u.depth = 0
		}
		for _, d := range u.deps {
			u.depth = max(u.depth, depth(byKey[d])+1)
		}
		state[u.key] = 2
		return u.depth
	}
	cols := 0
	for _, u := range units {
		cols = max(cols, depth(u)+1)
	}
	// Sizes.
	for _, u := range units {
		switch {
		case u.node != nil:
			u.w, u.h = nodeW, nodeH
		case u.cluster.Compact:
			n := u.cluster.Members
			c := min(n, cellCols)
			rows := (n + cellCols - 1) / cellCols
			u.w = max(nodeW, 2*clusterPad+c*cellSize+(c-1)*cellGp)
			u.h = clusterHead + 2*clusterPad + rows*cellSize + (rows-1)*cellGp
		default:
			n := u.cluster.Members
			u.w = nodeW + 2*clusterPad
			u.h = clusterHead + clusterPad + n*nodeH + (n-1)*rowGap + clusterPad
		}
	}
	// Columns, ordered by the mean row of their dependencies.
	columns := make([][]*unit, cols)
	for _, u := range units {
		columns[u.depth] = append(columns[u.depth], u)
	}
	for ci, col := range columns {
		if ci > 0 {
			for _, u := range col {
				if len(u.deps) == 0 {
					u.row = -1
					continue
				}
				sum := 0.0
				for _, d := range u.deps {
					sum += byKey[d].row
				}
				u.row = sum / float64(len(u.deps))
			}
			sort.SliceStable(col, func(i, j int) bool { return col[i].row < col[j].row })
		}
		for i, u := range col {
			u.row = float64(i)
		}
	}
	// Positions: columns left to right, each centred vertically.
	heights := make([]int, cols)
	total := 0
	for ci, col := range columns {
		for i, u := range col {
			if i > 0 {
				heights[ci] += rowGap
			}
			heights[ci] += u.h
		}
		total = max(total, heights[ci])
	}
	x := margin
	for ci, col := range columns {
		w := 0
		y := margin + (total-heights[ci])/2
		for _, u := range col {
			u.x, u.y = x, y
			y += u.h + rowGap
			w = max(w, u.w)
		}
		if len(col) > 0 {
			x += w + colGap
		}
	}
	g.Width = max(x-colGap+margin, nodeW+2*margin)
	g.Height = total + 2*margin
	for _, u := range units {
		if u.node != nil {
			u.node.X, u.node.Y, u.node.W, u.node.H = u.x, u.y, u.w, u.h
			continue
		}
		c := u.cluster
		c.X, c.Y, c.W, c.H = u.x, u.y, u.w, u.h
		i := 0
		for _, n := range g.Nodes {
			if n.Cluster != c.ID {
				continue
			}
			if c.Compact {
				n.X = c.X + clusterPad + (i%cellCols)*(cellSize+cellGp)
				n.Y = c.Y + clusterHead + clusterPad + (i/cellCols)*(cellSize+cellGp)
				n.W, n.H = cellSize, cellSize
			} else {
				n.X, n.Y = c.X+clusterPad, c.Y+clusterHead+i*(nodeH+rowGap)
				n.W, n.H = nodeW, nodeH
			}
			i++
		}
	}
	// Edges: dependencies, then DOWNLOAD_SOURCE to the first groups.
	for _, u := range units {
		for _, d := range u.deps {
			from := byKey[d]
			g.Edges = append(g.Edges, edge(from, u, false))
		}
		if source != nil && u != source && len(u.deps) == 0 {
			g.Edges = append(g.Edges, edge(source, u, true))
		}
	}
	return g
}

func edge(from, to *unit, source bool) graphEdge {
	return graphEdge{From: from.key, To: to.key, Source: source,
		X1: from.x + from.w, Y1: from.y + from.h/2, X2: to.x, Y2: to.y + to.h/2}
}
