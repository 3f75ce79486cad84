/**
 * The contract between the conversion Lambda, the `convert` Automation document and `convert-run`:
 * what the Lambda returns, and how the document turns a refusal into a failed execution.
 *
 * The Lambda returns either its summary (`outcome: 'converted'`) or a handled refusal
 * (`outcome: 'refused'`, with the reason); anything it throws is a function error. The document's
 * `check` step (aws:executeScript) reads the `convert` step's Payload and fails the execution on a
 * refusal or a function-error payload, so the execution's status is right whether or not Automation
 * fails an aws:invokeLambdaFunction step on a function error (AWS does not document that).
 */
import type { ConversionSummary } from './job';

/** Step names of the `convert` automation; `<convert>.Payload` is the Lambda's answer. */
export const CONVERT_STEP_NAME = 'convert';
export const CHECK_STEP_NAME = 'checkOutcome';

export type ConversionResult =
  | ({ outcome: 'converted' } & ConversionSummary)
  | { outcome: 'refused'; runId: string; refusal: string };

/**
 * The `check` step's script (Python 3.11 on Automation's script runtime). It fails the step, with the
 * Lambda's own words, on: a refusal payload, a function-error payload (`errorMessage`), or no JSON object.
 */
export const CHECK_OUTCOME_SCRIPT = `import json


def check(events, context):
    raw = events.get("payload") or ""
    try:
        body = json.loads(raw)
    except ValueError:
        raise Exception("conversion Lambda returned no JSON summary: " + raw[:500])
    if not isinstance(body, dict):
        raise Exception("conversion Lambda returned no summary object: " + raw[:500])
    if body.get("errorMessage"):
        raise Exception("conversion Lambda failed: %s: %s" % (body.get("errorType", "Error"), body["errorMessage"]))
    if body.get("outcome") == "refused":
        raise Exception("conversion refused: %s" % body.get("refusal", "no reason given"))
    return {"outcome": body.get("outcome", "converted"), "published": bool(body.get("published"))}
`;
