// Package report reads the warehouse for people: the example BI queries
// that the demo prints and deploy/docs/bi.md shows, a read-only query runner that
// renders any result as text, and row counts of the warehouse tables. The
// demo and the benchmarks use it; sync passes never do. It holds SQL, so it
// lives in the store tree; it reaches the database through store.DB.Pool.
package report

// Report is a named query for people to read: the demo prints them and the
// documentation (deploy/docs/bi.md) shows them as examples for dashboards.
type Report struct {
	Title string
	SQL   string
}

// Reports are example BI queries over the warehouse tables.
var Reports = []Report{
	{
		Title: "Calls per day and agent: volume, completed share, average duration",
		SQL: `SELECT date_trunc('day', started_at)::date AS day,
       model_id,
       count(*) AS calls,
       round(avg((status = 'completed')::int) * 100, 1) AS completed_pct,
       round(avg(duration_seconds), 1) AS avg_duration_s
FROM   calls
WHERE  started_at >= now() - interval '30 days'
GROUP  BY 1, 2
ORDER  BY 1 DESC, 2
LIMIT  10`,
	},
	{
		Title: "Daily call stats by agent name (the daily_call_stats view), latest days first",
		SQL: `SELECT day, agent_name, calls, answered, completed, no_answer, voicemail, answer_rate,
       avg_duration_seconds, median_duration_seconds, p90_duration_seconds, total_talk_minutes
FROM   daily_call_stats
ORDER  BY day DESC, agent_name
LIMIT  8`,
	},
	{
		Title: "Calls per agent over 30 days: answered by a person, voicemail, utterances",
		SQL: `SELECT agent_name, count(*) AS calls,
       count(*) FILTER (WHERE answered) AS answered,
       count(*) FILTER (WHERE voicemail) AS voicemail,
       round(avg(human_utterances), 1) AS avg_human_utterances,
       sum(utterances) AS utterances
FROM   call_facts
WHERE  started_date_utc >= current_date - 30
GROUP  BY 1
ORDER  BY 2 DESC`,
	},
	{
		Title: "Transfers that failed in the last 7 days, per agent (daily_action_outcomes)",
		SQL: `SELECT agent_name, action, status, sum(actions) AS actions, sum(failed) AS failed
FROM   daily_action_outcomes
WHERE  day >= current_date - 7 AND action ILIKE '%transfer%'
GROUP  BY 1, 2, 3
ORDER  BY 1, 2, 3`,
	},
	{
		Title: "Call-quality judgements per agent over 30 days (daily_judgement_results)",
		SQL: `SELECT agent_name, criterion, sum(calls) AS calls, sum(true_count) AS true,
       sum(false_count) AS false, sum(partial_count) AS partial,
       round(sum(true_count)::numeric / nullif(sum(true_count + false_count + partial_count), 0), 3) AS pass_rate
FROM   daily_judgement_results
WHERE  day >= current_date - 30 AND criterion IN ('goal', 'answered_by_human', 'objections')
GROUP  BY 1, 2
ORDER  BY 1, 2`,
	},
	{
		Title: "Calls in which someone asked to cancel (transcript_search)",
		SQL: `SELECT f.agent_name, s.call_id, s.speaker, left(s.text, 60) AS text
FROM   transcript_search s
JOIN   call_facts f USING (call_id)
WHERE  s.document @@ websearch_to_tsquery('simple', 'cancel')
ORDER  BY f.started_at DESC
LIMIT  3`,
	},
	{
		Title: "Top end-call reasons",
		SQL: `SELECT coalesce(end_call_reason, '(none)') AS end_call_reason, count(*) AS calls
FROM   call_facts
GROUP  BY 1
ORDER  BY 2 DESC
LIMIT  5`,
	},
	{
		Title: "Answer funnel over 30 days: called, answered by a person, gave a name, an email, booked",
		SQL: `WITH per_call AS (
    SELECT f.call_id, f.answered,
           coalesce(bool_or(v.variable = 'user_name' AND v.collected), false)        AS name,
           coalesce(bool_or(v.variable = 'email' AND v.collected), false)            AS email,
           coalesce(bool_or(v.variable = 'appointment_date' AND v.collected), false) AS appointment
    FROM   call_facts f
    LEFT   JOIN collected_variable_values v USING (call_id)
    WHERE  f.started_at >= now() - interval '30 days'
    GROUP  BY f.call_id, f.answered)
SELECT step, calls, round(100.0 * calls / nullif(first_value(calls) OVER (ORDER BY n), 0), 1) AS pct_of_calls
FROM  (SELECT 1 AS n, 'called' AS step, count(*) AS calls FROM per_call
       UNION ALL SELECT 2, 'answered', count(*) FILTER (WHERE answered) FROM per_call
       UNION ALL SELECT 3, 'gave a name', count(*) FILTER (WHERE answered AND name) FROM per_call
       UNION ALL SELECT 4, 'gave an email', count(*) FILTER (WHERE answered AND name AND email) FROM per_call
       UNION ALL SELECT 5, 'booked', count(*) FILTER (WHERE answered AND name AND email AND appointment) FROM per_call) s
ORDER  BY n`,
	},
}
