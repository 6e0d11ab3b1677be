package main

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// webhookReasonsEmitted returns the reason labels webhook.go passes to the
// handler's refuse and count methods as string literals, with the status
// code expression each is answered with.
func webhookReasonsEmitted(t *testing.T) map[string]string {
	t.Helper()
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "webhook.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	found := map[string]string{}
	ast.Inspect(f, func(n ast.Node) bool {
		call, ok := n.(*ast.CallExpr)
		if !ok {
			return true
		}
		sel, ok := call.Fun.(*ast.SelectorExpr)
		if !ok || (sel.Sel.Name != "refuse" && sel.Sel.Name != "count") {
			return true
		}
		codeArg, reasonArg := 0, 1 // count(code, reason)
		if sel.Sel.Name == "refuse" {
			codeArg, reasonArg = 2, 3 // refuse(w, r, code, reason, detail)
		}
		if len(call.Args) <= reasonArg {
			return true
		}
		lit, ok := call.Args[reasonArg].(*ast.BasicLit)
		if !ok || lit.Kind != token.STRING {
			return true // refuse passing its own reason on
		}
		reason, err := strconv.Unquote(lit.Value)
		if err != nil {
			t.Fatal(err)
		}
		code := ""
		if s, ok := call.Args[codeArg].(*ast.SelectorExpr); ok {
			code = s.Sel.Name
		}
		found[reason] = code
		return true
	})
	if len(found) < 5 {
		t.Fatalf("found only %d reasons in webhook.go: the parser no longer sees the calls", len(found))
	}
	return found
}

// httpStatusNames maps net/http's status constant names to their codes,
// for the ones the webhook answers with.
var httpStatusNames = map[string]string{
	"StatusOK": "200", "StatusAccepted": "202", "StatusBadRequest": "400", "StatusUnauthorized": "401",
	"StatusMethodNotAllowed": "405", "StatusRequestTimeout": "408", "StatusRequestEntityTooLarge": "413",
	"StatusUnsupportedMediaType": "415", "StatusUnprocessableEntity": "422", "StatusServiceUnavailable": "503",
}

// TestWebhookReasons_Documented: every reason the webhook handler counts is
// among the label values shown at 0 from the start (with the code it is
// answered with), in the metric's help, and in deploy/README.md's metrics
// table, so that a new refusal cannot ship undocumented.
func TestWebhookReasons_Documented(t *testing.T) {
	emitted := webhookReasonsEmitted(t)
	for reason, codeName := range emitted {
		code, ok := webhookReasons[reason]
		if !ok {
			t.Errorf("webhook.go counts reason %q, which webhookReasons lacks", reason)
			continue
		}
		if want, known := httpStatusNames[codeName]; known && code != want {
			t.Errorf("reason %q is answered %s (%s), webhookReasons says %s", reason, want, codeName, code)
		}
	}
	for reason := range webhookReasons {
		if _, ok := emitted[reason]; !ok {
			t.Errorf("webhookReasons has %q, which webhook.go never counts", reason)
		}
	}

	readme, err := os.ReadFile(deployDir + "/README.md")
	if err != nil {
		t.Fatal(err)
	}
	var row string
	for _, l := range strings.Split(string(readme), "\n") {
		if strings.HasPrefix(l, "| `callsync_webhook_requests_total{code,reason}`") {
			row = l
		}
	}
	if row == "" {
		t.Fatal("deploy/README.md has no metrics row for callsync_webhook_requests_total")
	}
	documented := map[string]bool{}
	for _, m := range regexp.MustCompile("`([a-z_]+)`").FindAllStringSubmatch(row, -1) {
		documented[m[1]] = true
	}
	help := webhookHelp
	for reason, code := range webhookReasons {
		if !documented[reason] {
			t.Errorf("deploy/README.md does not document reason %q (code %s) of callsync_webhook_requests_total", reason, code)
		}
		if !strings.Contains(help, reason) {
			t.Errorf("the help of callsync_webhook_requests_total does not name reason %q", reason)
		}
	}
}
