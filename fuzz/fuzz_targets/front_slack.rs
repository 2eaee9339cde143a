#![no_main]
//! The Slack door's pure parts on any input: the signature check (which must accept what Slack signs and
//! nothing it did not), the replay key, the slash-command form, the command text, the job it resolves to and
//! the front's checks of that job. Any panic is a crash.

use arbitrary::Arbitrary;
use contract::identity::Home;
use front::auth::{slack_signature, verify_slack, SLACK_MAX_SKEW_SECS};
use front::check::check;
use front::config::{AllowList, Config};
use front::replay;
use front::slack::{self, Job, SlashCommand};
use libfuzzer_sys::fuzz_target;

const SECRET: &[u8] = b"fuzz-signing-secret";

#[derive(Arbitrary, Debug)]
struct Input<'a> {
    timestamp: &'a str,
    signature: &'a str,
    body: &'a [u8],
    now: u64,
    text: &'a str,
}

fn config() -> Config {
    Config {
        deployer_function: "deployer".into(),
        default_cluster: Some("demo".into()),
        allowed: AllowList::parse("demo/web,demo/api").expect("allow-list"),
        region: "us-east-1".into(),
        ..Config::default()
    }
}

fuzz_target!(|input: Input| {
    // Whatever is sent, the check answers.
    let verdict = verify_slack(SECRET, Some(input.timestamp), Some(input.signature), input.body, input.now);
    if verdict.is_ok() {
        // Accepted only when the signature is ours over this body and this timestamp, within the window.
        let ts = input.timestamp.trim();
        let sent: u64 = ts.parse().expect("an accepted timestamp is a number");
        assert!(sent.abs_diff(input.now) <= SLACK_MAX_SKEW_SECS);
        assert_eq!(input.signature.trim().to_ascii_lowercase(), slack_signature(SECRET, ts, input.body));
    }
    // What Slack signs verifies, at its own time.
    if let Ok(sent) = input.timestamp.parse::<u64>() {
        if input.timestamp.trim() == input.timestamp {
            let signature = slack_signature(SECRET, input.timestamp, input.body);
            assert!(verify_slack(SECRET, Some(input.timestamp), Some(&signature), input.body, sent).is_ok());
            // Any other body does not.
            let mut other = input.body.to_vec();
            other.push(b'x');
            assert!(verify_slack(SECRET, Some(input.timestamp), Some(&signature), &other, sent).is_err());
        }
    }
    let key = replay::key(input.timestamp, input.signature);
    assert!(key.starts_with(replay::KEY_PREFIX) && !key.contains('/'));

    let _ = slack::is_ssl_check(input.body);
    if let Ok(command) = SlashCommand::parse(input.body) {
        assert!(!command.user_id.is_empty() && !command.response_url.is_empty());
    }
    let home = Home::from_function_arn("arn:aws:lambda:us-east-1:123456789012:function:front");
    let config = config();
    if let Ok(ask) = slack::parse_text(input.text) {
        if let Ok(Some(job)) = Job::resolve(ask, config.default_cluster.as_deref()) {
            let _ = job.acknowledgement();
            match check(job.request(true), &config, home.as_ref()) {
                Ok(checked) => {
                    assert!(config.allowed.allows(job.cluster(), job.service()));
                    let job = job.checked(&checked.request);
                    if let Job::Deploy { version, .. } = &job {
                        assert!(contract::names::Version::parse(version).is_ok());
                    }
                }
                Err(err) => {
                    let allowed = config.allowed.allows(job.cluster(), job.service());
                    let _ = slack::refusal(&job, &err, allowed);
                }
            }
        }
    }
});
