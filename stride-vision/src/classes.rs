//! ImageNet's 1000 class names, in the order of a classifier's outputs.

use std::sync::OnceLock;

/// One name a line, in index order, as torchvision gives them
/// (`torchvision.models._meta._IMAGENET_CATEGORIES`, torchvision 0.29). Written by:
///
/// ```text
/// python -c "from torchvision.models._meta import _IMAGENET_CATEGORIES as c; \
///     assert len(c) == 1000; print('\n'.join(c))" > stride-vision/src/imagenet_classes.txt
/// ```
const IMAGENET_CLASSES: &str = include_str!("imagenet_classes.txt");

/// ImageNet's 1000 class names, indexed as torchvision's classifiers' outputs are
/// (`weights.meta["categories"]`).
///
/// ```
/// let classes = stride_vision::imagenet_classes();
/// assert_eq!(classes.len(), 1000);
/// assert_eq!(classes[0], "tench");
/// assert_eq!(classes[207], "golden retriever");
/// ```
pub fn imagenet_classes() -> &'static [&'static str] {
    static CLASSES: OnceLock<Vec<&'static str>> = OnceLock::new();
    CLASSES.get_or_init(|| IMAGENET_CLASSES.lines().collect())
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_file_holds_a_thousand_non_empty_names() {
        let classes = super::imagenet_classes();
        assert_eq!(classes.len(), 1000);
        assert!(
            classes
                .iter()
                .all(|c| !c.trim().is_empty() && c.trim() == *c)
        );
        assert_eq!(classes[999], "toilet tissue");
    }
}
