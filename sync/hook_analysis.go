package sync

import (
	"context"

	"github.com/callsync/callsync/api"
	"github.com/callsync/callsync/store"
)

// Outcomes of SaveHookAnalysis that store nothing, besides api.AnalysisTooLarge
// and api.AnalysisInvalid. When it stores, it returns the store's outcome
// (store.HookJudgementsStored, ...).
const (
	// AnalysisNone: the webhook sent no analysis, or a null, empty or
	// unreadable one (not an object).
	AnalysisNone = "none"
	// AnalysisUnverified: the request's signature was not checked (no
	// webhook secret set): its body is not trusted.
	AnalysisUnverified = "unverified"
)

// HookJudgementStore stores the judgements of verified webhooks.
// *store.DB implements it.
type HookJudgementStore interface {
	SaveHookJudgements(ctx context.Context, id string, js []store.Judgement, answeredByHuman *string) (string, error)
}

// SaveHookAnalysis stores the analysis object of a post-call webhook as
// its call's judgements (see store.DB.SaveHookJudgements for which source
// wins), normalized as a list page's judge_results are. The body of a
// webhook is a hint: only the analysis of a request whose signature was
// verified (verified: a secret is set and the signature matched) is
// stored. Synthflow signs the call id, not the body, so a verified
// analysis is as trustworthy as the channel it came over.
//
// It returns AnalysisNone, AnalysisUnverified, api.AnalysisTooLarge or
// api.AnalysisInvalid when it stores nothing, else the store's outcome;
// and the store's error. The webhook's call id must be valid (queued).
func SaveHookAnalysis(ctx context.Context, s HookJudgementStore, hook *api.Webhook, verified bool) (string, error) {
	if hook.Analysis == nil && hook.AnalysisDropped == "" {
		return AnalysisNone, nil
	}
	if !verified {
		return AnalysisUnverified, nil
	}
	if hook.AnalysisDropped != "" {
		return hook.AnalysisDropped, nil
	}
	n := normalizer{}
	js, answered := n.judgements(api.DecodeJudgements(hook.Analysis))
	if js == nil {
		return AnalysisNone, nil
	}
	return s.SaveHookJudgements(ctx, hook.CallID, js, answered)
}
