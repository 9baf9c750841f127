package api

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
)

// TestOnlyTheAPIMapsCodesToStatuses keeps api/errors.go the one place where an error code becomes
// an HTTP status. It reads every non-test Go file of the module and fails on a map from
// apperr.Code to int, and on an if or switch that tests an apperr code and names an
// http.Status…/fiber.Status… constant in its body (internal/upload's copied status table and
// the install page's own 401/403/429 choices were both). Reading another service's status into
// a code (media's S3 errors, push's FCM errors) is not mapping ours, and passes.
func TestOnlyTheAPIMapsCodesToStatuses(t *testing.T) {
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	codes := apperrCodes(t, filepath.Join(root, "internal", "apperr"))
	if len(codes) < len(statusOf) {
		t.Fatalf("found %d apperr codes, the mapping has %d", len(codes), len(statusOf))
	}
	fset := token.NewFileSet()
	checked := 0
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		if d.IsDir() {
			if name := d.Name(); path != root && (strings.HasPrefix(name, ".") || name == "node_modules" || name == "bin" || name == "testdata") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") || rel == filepath.Join("api", "errors.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			return err
		}
		checked++
		for _, v := range mappings(f, codes) {
			t.Errorf("%s: maps an apperr code to an HTTP status; only api/errors.go may (see api/README.md)", fset.Position(v))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if checked < 100 {
		t.Fatalf("checked only %d files under %s", checked, root)
	}
}

// apperrCodes returns the names of the apperr.Code constants.
func apperrCodes(t *testing.T, dir string) map[string]bool {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	codes := map[string]bool{}
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			if vs, ok := n.(*ast.ValueSpec); ok {
				if id, ok := vs.Type.(*ast.Ident); ok && id.Name == "Code" {
					for _, name := range vs.Names {
						codes[name.Name] = true
					}
				}
			}
			return true
		})
	}
	return codes
}

// mappings returns where f maps apperr codes to HTTP statuses.
func mappings(f *ast.File, codes map[string]bool) []token.Pos {
	var found []token.Pos
	ast.Inspect(f, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.MapType:
			if isSelector(n.Key, "apperr", func(s string) bool { return s == "Code" }) {
				if id, ok := n.Value.(*ast.Ident); ok && id.Name == "int" {
					found = append(found, n.Pos())
				}
			}
		case *ast.IfStmt:
			if testsCode(n.Cond, codes) && namesStatus(n.Body) {
				found = append(found, n.Pos())
			}
		case *ast.SwitchStmt:
			for _, s := range n.Body.List {
				cc := s.(*ast.CaseClause)
				tests := n.Tag != nil && testsCode(n.Tag, codes)
				for _, e := range cc.List {
					tests = tests || testsCode(e, codes)
				}
				for _, b := range cc.Body {
					if tests && namesStatus(b) {
						found = append(found, cc.Pos())
						break
					}
				}
			}
		}
		return true
	})
	return found
}

// testsCode reports whether n refers to an apperr code (apperr.NotFound, apperr.CodeOf,
// apperr.Is).
func testsCode(n ast.Node, codes map[string]bool) bool {
	found := false
	ast.Inspect(n, func(n ast.Node) bool {
		if e, ok := n.(ast.Expr); ok && isSelector(e, "apperr", func(s string) bool { return codes[s] || s == "CodeOf" || s == "Is" }) {
			found = true
		}
		return !found
	})
	return found
}

// namesStatus reports whether n names an http.Status… or fiber.Status… constant.
func namesStatus(n ast.Node) bool {
	found := false
	ast.Inspect(n, func(n ast.Node) bool {
		if e, ok := n.(ast.Expr); ok && (isSelector(e, "http", isStatus) || isSelector(e, "fiber", isStatus)) {
			found = true
		}
		return !found
	})
	return found
}

func isStatus(name string) bool { return strings.HasPrefix(name, "Status") && name != "StatusText" }

func isSelector(e ast.Expr, pkg string, name func(string) bool) bool {
	s, ok := e.(*ast.SelectorExpr)
	if !ok {
		return false
	}
	id, ok := s.X.(*ast.Ident)
	return ok && id.Name == pkg && name(s.Sel.Name)
}
