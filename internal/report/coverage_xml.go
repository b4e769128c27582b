package report

import (
	"regexp"
	"strconv"
)

// Cobertura XML: <coverage><packages><package><classes><class filename>
// <lines><line number hits branch condition-coverage>.
//
//	file      class filename; classes of one file (Java inner classes) merge,
//	          a line listed twice counts once
//	lines     class-level <line>s (the copies under <methods> are ignored
//	          unless a class has no class-level lines): hits > 0 covered,
//	          else missed
//	branches  condition-coverage="50% (1/2)": 1 covered, 1 missed
func parseCobertura(data []byte) ([]fileCoverage, error) {
	doc, err := parseXML(data)
	if err != nil {
		return nil, err
	}
	root, err := doc.root("coverage")
	if err != nil {
		return nil, err
	}
	type lineCov struct {
		hit                 bool
		branches, branchHit int64
	}
	var order []string
	files := map[string]map[int64]*lineCov{}
	var walk func(n *node)
	walk = func(n *node) {
		for _, c := range n.children {
			if c.name != "class" {
				walk(c)
				continue
			}
			path := c.attr("filename")
			if path == "" {
				continue
			}
			lines, ok := files[path]
			if !ok {
				lines = map[int64]*lineCov{}
				files[path] = lines
				order = append(order, path)
			}
			var ls []*node
			if l := c.child("lines"); l != nil {
				ls = l.children
			}
			if len(ls) == 0 {
				for _, m := range c.child("methods").childrenNamed("method") {
					ls = append(ls, m.child("lines").childrenNamed("line")...)
				}
			}
			for _, l := range ls {
				if l.name != "line" {
					continue
				}
				num, err := strconv.ParseInt(l.attr("number"), 10, 64)
				if err != nil {
					continue
				}
				lc := lines[num]
				if lc == nil {
					lc = &lineCov{}
					lines[num] = lc
				}
				if count(l.attr("hits")) > 0 {
					lc.hit = true
				}
				if cov, total, ok := conditionCoverage(l.attr("condition-coverage")); ok {
					lc.branches = max(lc.branches, total)
					lc.branchHit = max(lc.branchHit, min(cov, total))
				}
			}
		}
	}
	walk(root)
	var set coverageSet
	for _, path := range order {
		f := fileCoverage{path: path}
		for _, lc := range files[path] {
			if lc.hit {
				f.linesCovered++
			} else {
				f.linesMissed++
			}
			f.branchesCovered = addInt64(f.branchesCovered, lc.branchHit)
			f.branchesMissed = addInt64(f.branchesMissed, lc.branches-lc.branchHit)
		}
		set.add(f)
	}
	return set.files, nil
}

var conditionRE = regexp.MustCompile(`\(\s*(\d+)\s*/\s*(\d+)\s*\)`)

func conditionCoverage(s string) (covered, total int64, ok bool) {
	m := conditionRE.FindStringSubmatch(s)
	if m == nil {
		return 0, 0, false
	}
	return count(m[1]), count(m[2]), true
}

func (n *node) childrenNamed(name string) []*node {
	if n == nil {
		return nil
	}
	var out []*node
	for _, c := range n.children {
		if c.name == name {
			out = append(out, c)
		}
	}
	return out
}

// Clover XML (OpenClover, PHPUnit, Istanbul): <coverage><project> with
// <file>s directly or inside <package>s; <testproject> (test sources) is
// skipped.
//
//	file      path attribute, else name
//	lines     the file's own <metrics> (not a <class>'s): statements and
//	          coveredstatements; without metrics, <line type="stmt|cond">
//	          with count > 0 covered, else missed
//	branches  conditionals and coveredconditionals; without metrics, each
//	          <line type="cond"> is two branches, covered by truecount > 0
//	          and falsecount > 0
func parseClover(data []byte) ([]fileCoverage, error) {
	doc, err := parseXML(data)
	if err != nil {
		return nil, err
	}
	root, err := doc.root("coverage")
	if err != nil {
		return nil, err
	}
	var set coverageSet
	var walk func(n *node)
	walk = func(n *node) {
		for _, c := range n.children {
			switch c.name {
			case "project", "package":
				walk(c)
			case "file":
				if f, ok := cloverFile(c); ok {
					set.add(f)
				}
			}
		}
	}
	walk(root)
	return set.files, nil
}

func cloverFile(n *node) (fileCoverage, bool) {
	f := fileCoverage{path: n.attr("path")}
	if f.path == "" {
		f.path = n.attr("name")
	}
	if f.path == "" {
		return f, false
	}
	if m := n.child("metrics"); m != nil {
		st, cst := count(m.attr("statements")), count(m.attr("coveredstatements"))
		co, cco := count(m.attr("conditionals")), count(m.attr("coveredconditionals"))
		cst, cco = min(cst, st), min(cco, co)
		f.linesCovered, f.linesMissed = cst, st-cst
		f.branchesCovered, f.branchesMissed = cco, co-cco
		return f, true
	}
	for _, l := range n.childrenNamed("line") {
		switch l.attr("type") {
		case "stmt", "cond":
			if count(l.attr("count")) > 0 {
				f.linesCovered++
			} else {
				f.linesMissed++
			}
		}
		if l.attr("type") == "cond" {
			for _, a := range []string{"truecount", "falsecount"} {
				if count(l.attr(a)) > 0 {
					f.branchesCovered++
				} else {
					f.branchesMissed++
				}
			}
		}
	}
	return f, true
}

// JaCoCo XML: <report> with <package name> (possibly inside <group>s) and
// <sourcefile name> entries.
//
//	file      package name + "/" + sourcefile name ("com/example/Foo.java")
//	lines     the sourcefile's <counter type="LINE" missed covered>; without
//	          it, <line nr mi ci>: ci > 0 covered, else mi > 0 missed
//	branches  <counter type="BRANCH">; without it, the sum of the lines' cb
//	          and mb
func parseJaCoCo(data []byte) ([]fileCoverage, error) {
	doc, err := parseXML(data)
	if err != nil {
		return nil, err
	}
	root, err := doc.root("report")
	if err != nil {
		return nil, err
	}
	var set coverageSet
	var walk func(n *node)
	walk = func(n *node) {
		for _, c := range n.children {
			switch c.name {
			case "group":
				walk(c)
			case "package":
				pkg := c.attr("name")
				for _, sf := range c.childrenNamed("sourcefile") {
					name := sf.attr("name")
					if name == "" {
						continue
					}
					path := name
					if pkg != "" {
						path = pkg + "/" + name
					}
					set.add(jacocoFile(sf, path))
				}
			}
		}
	}
	walk(root)
	return set.files, nil
}

func jacocoFile(sf *node, path string) fileCoverage {
	f := fileCoverage{path: path}
	var haveLine, haveBranch bool
	for _, c := range sf.childrenNamed("counter") {
		switch c.attr("type") {
		case "LINE":
			haveLine = true
			f.linesCovered, f.linesMissed = count(c.attr("covered")), count(c.attr("missed"))
		case "BRANCH":
			haveBranch = true
			f.branchesCovered, f.branchesMissed = count(c.attr("covered")), count(c.attr("missed"))
		}
	}
	if haveLine && haveBranch {
		return f
	}
	var lc, lm, bc, bm int64
	for _, l := range sf.childrenNamed("line") {
		switch {
		case count(l.attr("ci")) > 0:
			lc++
		case count(l.attr("mi")) > 0:
			lm++
		}
		bc = addInt64(bc, count(l.attr("cb")))
		bm = addInt64(bm, count(l.attr("mb")))
	}
	if !haveLine {
		f.linesCovered, f.linesMissed = lc, lm
	}
	if !haveBranch {
		f.branchesCovered, f.branchesMissed = bc, bm
	}
	return f
}
