//! Image updates (docs/node.md): which deployments of the revision in force follow their tag,
//! when each one's registry check is due (at once for a deployment the node has not checked yet,
//! then every `interval`), and what a check's answer does — `notify` tells once per new digest,
//! `apply` has the digest planned. Pure: the time arrives as an argument; the registry request,
//! the Docker inspection and the notification are the reconciler's.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use engine::image;
use engine::manifest::UpdateMode;
use engine::{DesiredState, Observed};

/// A deployment that follows its tag.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Watched {
    pub deployment: String,
    /// The tag reference it runs.
    pub image: String,
    pub mode: UpdateMode,
    pub interval: Duration,
}

/// The deployments of `desired` with `imageUpdates`.
pub fn watched(desired: &DesiredState) -> Vec<Watched> {
    desired
        .deployments
        .values()
        .filter_map(|deployment| {
            let updates = deployment.image_updates?;
            Some(Watched {
                deployment: deployment.name.clone(),
                image: deployment.spec.image.as_str().to_string(),
                mode: updates.mode,
                interval: updates.interval.as_std(),
            })
        })
        .collect()
}

/// When each deployment was last checked.
#[derive(Debug, Default)]
pub struct Schedule {
    checked: BTreeMap<String, Instant>,
}

impl Schedule {
    /// The deployments of `watched` whose check is due at `now`, marked as checked then; those
    /// no longer watched are forgotten.
    pub fn due(&mut self, watched: &[Watched], now: Instant) -> Vec<Watched> {
        self.checked
            .retain(|deployment, _| watched.iter().any(|w| &w.deployment == deployment));
        let mut due = Vec::new();
        for watch in watched {
            let is_due = self
                .checked
                .get(&watch.deployment)
                .is_none_or(|last| now.duration_since(*last) >= watch.interval);
            if is_due {
                self.checked.insert(watch.deployment.clone(), now);
                due.push(watch.clone());
            }
        }
        due
    }
}

/// The registry digest (`sha256:…`) of the image the primary container of `watch`'s deployment
/// runs, from the image's repository digests for the tag's repository.
pub fn running_digest(
    observed: &Observed,
    desired: &DesiredState,
    watch: &Watched,
) -> Option<String> {
    let deployment = desired.deployments.get(&watch.deployment)?;
    let container = observed
        .containers
        .iter()
        .find(|container| container.bare_name() == deployment.container)?;
    repository_digest(observed, &container.image_id, &watch.image)
}

/// The digest under which the registry of `reference`'s repository knows the image `image_id`,
/// as Docker recorded it when the image was pulled or pushed; none for an image only built here.
pub fn repository_digest(observed: &Observed, image_id: &str, reference: &str) -> Option<String> {
    let image = observed.images.iter().find(|image| image.id == image_id)?;
    let repository = image::normalize(image::repository(reference)).into_owned();
    let repository = image::repository(&repository).to_string();
    image.digests.iter().find_map(|reference| {
        let (name, digest) = reference.split_once('@')?;
        (image::repository(&image::normalize(name)) == repository).then(|| digest.to_string())
    })
}

/// What a check's answer does.
#[derive(Debug, PartialEq, Eq)]
pub enum Answer {
    /// The deployment runs the registry's image, or it was already told about.
    Nothing,
    /// Send `image_available` for the digest and remember it.
    Notify,
    /// Plan the pull and recreate of the digest.
    Apply,
}

/// What the registry's `available` digest does for `watch`, whose containers run `running` (the
/// digest of their image, when Docker knows it), given the digest it was last notified of.
/// `apply` plans a deployment without a running digest too: a pull and a recreate bring it to
/// the registry's image.
pub fn answer(
    watch: &Watched,
    running: Option<&str>,
    available: &str,
    notified: Option<&str>,
) -> Answer {
    if running == Some(available) {
        return Answer::Nothing;
    }
    match watch.mode {
        // Nothing runs yet (the first pass is still pulling), or an image the registry never
        // served: there is nothing to compare with.
        UpdateMode::Notify if running.is_none() => Answer::Nothing,
        UpdateMode::Notify if notified == Some(available) => Answer::Nothing,
        UpdateMode::Notify => Answer::Notify,
        UpdateMode::Apply => Answer::Apply,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn watch(mode: UpdateMode, minutes: u64) -> Watched {
        Watched {
            deployment: "web".to_string(),
            image: "127.0.0.1:5000/web:1".to_string(),
            mode,
            interval: Duration::from_secs(minutes * 60),
        }
    }

    #[test]
    fn the_first_check_is_at_once_and_the_next_after_the_interval() {
        let mut schedule = Schedule::default();
        let watched = [watch(UpdateMode::Notify, 5)];
        let start = Instant::now();
        assert_eq!(schedule.due(&watched, start).len(), 1);
        assert!(schedule
            .due(&watched, start + Duration::from_secs(299))
            .is_empty());
        assert_eq!(
            schedule
                .due(&watched, start + Duration::from_secs(300))
                .len(),
            1
        );
    }

    #[test]
    fn a_deployment_no_longer_watched_is_checked_at_once_when_it_comes_back() {
        let mut schedule = Schedule::default();
        let start = Instant::now();
        schedule.due(&[watch(UpdateMode::Notify, 5)], start);
        schedule.due(&[], start + Duration::from_secs(1));
        assert_eq!(
            schedule
                .due(
                    &[watch(UpdateMode::Notify, 5)],
                    start + Duration::from_secs(2)
                )
                .len(),
            1
        );
    }

    #[test]
    fn notify_tells_once_per_digest_and_apply_plans_every_new_one() {
        let notify = watch(UpdateMode::Notify, 5);
        assert_eq!(
            answer(&notify, Some("sha256:a"), "sha256:a", None),
            Answer::Nothing
        );
        assert_eq!(
            answer(&notify, Some("sha256:a"), "sha256:b", None),
            Answer::Notify
        );
        assert_eq!(
            answer(&notify, Some("sha256:a"), "sha256:b", Some("sha256:b")),
            Answer::Nothing
        );
        assert_eq!(
            answer(&notify, Some("sha256:a"), "sha256:c", Some("sha256:b")),
            Answer::Notify
        );
        assert_eq!(answer(&notify, None, "sha256:b", None), Answer::Nothing);
        let apply = watch(UpdateMode::Apply, 5);
        assert_eq!(answer(&apply, None, "sha256:b", None), Answer::Apply);
        assert_eq!(
            answer(&apply, Some("sha256:b"), "sha256:b", None),
            Answer::Nothing
        );
    }
}
