//! Renaming a file's keys into the network's: the rules of [`LoadOptions`](super::LoadOptions)
//! (`prefix` stripped, [`KeyRule`]s in order, `add_prefix` prepended), applied in one place.

use std::fmt;
use std::sync::Arc;

/// One rename rule of [`LoadOptions::renames`](super::LoadOptions::renames), applied to every
/// key of the file (after the [`prefix`](super::LoadOptions::prefix) is stripped) in the order
/// the rules are listed, each to what the one before gave.
///
/// timm and torchvision name some layers differently, and checkpoints made by other code
/// name them after that code's modules; a rule maps one naming onto the other without a
/// Python step.
///
/// ```
/// use stride_runtime::weights::KeyRule;
///
/// let shortcut = KeyRule::replace("downsample", "shortcut");
/// assert_eq!(shortcut.apply("layer2.0.downsample.0.weight").as_deref(), Some("layer2.0.shortcut.0.weight"));
/// // Whole segments only: `downsampler` is another module.
/// assert_eq!(shortcut.apply("layer2.0.downsampler.weight"), None);
///
/// // Anything a function can say, as timm's `blocks.0` for torchvision's `features.1`.
/// let shift = KeyRule::with(|key| {
///     let rest = key.strip_prefix("blocks.")?;
///     let (stage, rest) = rest.split_once('.')?;
///     Some(format!("features.{}.{rest}", stage.parse::<usize>().ok()? + 1))
/// });
/// assert_eq!(shift.apply("blocks.0.conv.weight").as_deref(), Some("features.1.conv.weight"));
/// ```
#[derive(Clone)]
pub enum KeyRule {
    /// Replaces `from` with `to` wherever `from` spans whole dotted segments of a key:
    /// `("fc", "head")` renames `fc.weight` to `head.weight`, and `("0.downsample",
    /// "0.shortcut")` renames `layer2.0.downsample.1.bias`, but neither touches `fc1.weight`.
    /// Keys without `from` are left as they are.
    Replace {
        /// The segments to find.
        from: String,
        /// What they become.
        to: String,
    },
    /// A function of the key: `Some(new name)`, or `None` to leave it. For renames that a
    /// replacement cannot say: a pattern (a `regex` of the caller's own), or a changed index.
    With(Rename),
}

/// A rename function, shared by the clones of its [`KeyRule`] and callable from any thread
/// (a [`Loader`](super::Loader) may be built on any of them).
pub type Rename = Arc<dyn Fn(&str) -> Option<String> + Send + Sync>;

impl KeyRule {
    /// A [`KeyRule::Replace`] of `from` by `to`.
    ///
    /// ```
    /// use stride_runtime::weights::KeyRule;
    ///
    /// assert_eq!(KeyRule::replace("fc", "head").apply("fc.bias").as_deref(), Some("head.bias"));
    /// ```
    pub fn replace(from: impl Into<String>, to: impl Into<String>) -> KeyRule {
        KeyRule::Replace {
            from: from.into(),
            to: to.into(),
        }
    }

    /// A [`KeyRule::With`] calling `rename`.
    ///
    /// ```
    /// use stride_runtime::weights::KeyRule;
    ///
    /// let upper = KeyRule::with(|key| key.strip_prefix("backbone.").map(str::to_string));
    /// assert_eq!(upper.apply("backbone.conv1.weight").as_deref(), Some("conv1.weight"));
    /// ```
    pub fn with(rename: impl Fn(&str) -> Option<String> + Send + Sync + 'static) -> KeyRule {
        KeyRule::With(Arc::new(rename))
    }

    /// What the rule renames `key` to, or `None` when it leaves it.
    ///
    /// ```
    /// use stride_runtime::weights::KeyRule;
    ///
    /// assert_eq!(KeyRule::replace("fc", "head").apply("conv1.weight"), None);
    /// ```
    pub fn apply(&self, key: &str) -> Option<String> {
        match self {
            KeyRule::Replace { from, to } => replace_segments(key, from, to),
            KeyRule::With(rename) => rename(key),
        }
    }

    /// The rule run backwards, when it is a replacement: what a key renamed to `key` was.
    fn undo(&self, key: &str) -> Option<Option<String>> {
        match self {
            KeyRule::Replace { from, to } => Some(replace_segments(key, to, from)),
            KeyRule::With(_) => None,
        }
    }
}

impl fmt::Debug for KeyRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyRule::Replace { from, to } => f
                .debug_struct("Replace")
                .field("from", from)
                .field("to", to)
                .finish(),
            KeyRule::With(_) => f.write_str("With(..)"),
        }
    }
}

/// Two rules are equal when they replace the same segments or call the same function.
impl PartialEq for KeyRule {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (KeyRule::Replace { from: a, to: b }, KeyRule::Replace { from: c, to: d }) => {
                a == c && b == d
            }
            (KeyRule::With(a), KeyRule::With(b)) => Arc::ptr_eq(a, b),
            _ => false,
        }
    }
}

impl Eq for KeyRule {}

/// `key` with every occurrence of `from` that spans whole dotted segments replaced by `to`,
/// or `None` when there is none.
fn replace_segments(key: &str, from: &str, to: &str) -> Option<String> {
    if from.is_empty() {
        return None;
    }
    let mut out = String::new();
    let mut copied = 0;
    for (at, _) in key.match_indices(from) {
        let end = at + from.len();
        let starts_segment = at == 0 || key.as_bytes()[at - 1] == b'.';
        let ends_segment = end == key.len() || key.as_bytes()[end] == b'.';
        if starts_segment && ends_segment && at >= copied {
            out.push_str(&key[copied..at]);
            out.push_str(to);
            copied = end;
        }
    }
    if copied == 0 {
        return None;
    }
    out.push_str(&key[copied..]);
    Some(out)
}

/// A module path as a key prefix: empty, or ending in one dot.
pub(super) fn module_prefix(path: &str) -> String {
    if path.is_empty() || path.ends_with('.') {
        path.to_string()
    } else {
        format!("{path}.")
    }
}

/// The renaming a [`Loader`](super::Loader) applies, from its options.
#[derive(Debug)]
pub(super) struct Renaming {
    /// The file's prefix, stripped (empty, or ending in a dot).
    pub strip: String,
    pub rules: Vec<KeyRule>,
    /// The network's prefix, added (empty, or ending in a dot).
    pub add: String,
}

impl Renaming {
    /// Whether keys are only stripped of the prefix, so that a network key is the file key
    /// without it.
    pub fn is_plain(&self) -> bool {
        self.rules.is_empty() && self.add.is_empty()
    }

    /// The network's name for file key `key`, or `None` when it is outside the prefix.
    pub fn network_key(&self, key: &str) -> Option<String> {
        let mut key = key.strip_prefix(&self.strip)?.to_string();
        for rule in &self.rules {
            if let Some(renamed) = rule.apply(&key) {
                key = renamed;
            }
        }
        Some(format!("{}{key}", self.add))
    }

    /// The file key that would have been renamed to network key `key`, for an error message:
    /// the replacements undone in reverse order (exact unless two of them overlap), `None`
    /// when a [`KeyRule::With`], which cannot be undone, is among the rules.
    pub fn file_key(&self, key: &str) -> Option<String> {
        let mut key = key.strip_prefix(&self.add)?.to_string();
        for rule in self.rules.iter().rev() {
            if let Some(original) = rule.undo(&key)? {
                key = original;
            }
        }
        Some(format!("{}{key}", self.strip))
    }
}
