package mongodb_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// collectionConst matches the names of constants that name collections (see README.md, "One
// owner per collection").
var collectionConst = regexp.MustCompile(`(?i)coll(ection)?$`)

// TestEachCollectionHasOneOwner reads the non-test Go files of the module and fails when a
// collection name is exported, or is named (by a constant or a Collection("...") literal) in more
// than one package: each collection has one owning package, and the others call its methods.
func TestEachCollectionHasOneOwner(t *testing.T) {
	root := moduleRoot(t)
	owners := map[string][]string{} // collection -> packages (directories) naming it
	fset := token.NewFileSet()
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			switch name := d.Name(); {
			case path != root && (strings.HasPrefix(name, ".") || name == "testdata" || name == "node_modules" ||
				name == "bin" || name == "deploy"):
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		pkg, _ := filepath.Rel(root, filepath.Dir(path))
		name := func(coll string) {
			if !slices.Contains(owners[coll], pkg) {
				owners[coll] = append(owners[coll], pkg)
			}
		}
		for _, decl := range f.Decls {
			gd, ok := decl.(*ast.GenDecl)
			if !ok || gd.Tok != token.CONST {
				continue
			}
			for _, spec := range gd.Specs {
				vs := spec.(*ast.ValueSpec)
				for i, id := range vs.Names {
					if i >= len(vs.Values) || !collectionConst.MatchString(id.Name) {
						continue
					}
					if coll, ok := stringLit(vs.Values[i]); ok {
						if id.IsExported() {
							t.Errorf("%s: %s names the collection %q and is exported: unexport it and give the "+
								"owner a method in domain words for the packages that read it", fset.Position(id.Pos()), id.Name, coll)
						}
						name(coll)
					}
				}
			}
		}
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok || len(call.Args) != 1 {
				return true
			}
			if sel, ok := call.Fun.(*ast.SelectorExpr); ok && sel.Sel.Name == "Collection" {
				if coll, ok := stringLit(call.Args[0]); ok {
					name(coll)
				}
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// The walk must have seen the module's collections, or this test proves nothing.
	for _, known := range []string{"users", "devices", "sync_access", "apps", "downloads", "push_prefs", "uploads"} {
		if len(owners[known]) == 0 {
			t.Errorf("found no package naming the collection %q: does the walk still read the module?", known)
		}
	}
	for coll, pkgs := range owners {
		if len(pkgs) > 1 {
			t.Errorf("the collection %q is named in %d packages, %s: keep it in its owner and call the owner's methods",
				coll, len(pkgs), strings.Join(pkgs, ", "))
		}
	}
}

func stringLit(e ast.Expr) (string, bool) {
	lit, ok := e.(*ast.BasicLit)
	if !ok || lit.Kind != token.STRING {
		return "", false
	}
	s, err := strconv.Unquote(lit.Value)
	return s, err == nil
}

// moduleRoot returns the directory of go.mod above the working directory.
func moduleRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the working directory")
		}
		dir = parent
	}
}
