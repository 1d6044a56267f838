//! Every rule of `network!`. Each `check_*` function states its rule in its doc comment,
//! reports at the offending token with the user's numbers, and returns `None` when the shape
//! after it is unknown, so that later layers skip their shape checks instead of cascading.
//!
//! | file | what it checks |
//! |---|---|
//! | `mod.rs` | the items of an invocation: networks and blocks, their names |
//! | `config.rs` | a network's or block's own attributes (`#[sequential]`, lints) |
//! | `walk.rs` | the walk over entries: input shape, names, keys, one layer at a time |
//! | `blocks.rs` | blocks and networks used as layers: definitions, instances, arguments |
//! | `branches.rs` | residual and concat branches |
//! | `cause.rs` | why branches that must meet differ: where they part, and the fix |
//! | `custom.rs` | layers of one's own: `custom(Type, channels = N)` |
//! | `plan.rs` | the layout the checked network gets: indices, fusion groups, Rust names |
//! | `../kinds/` | each layer kind's own rules, in the catalog |

mod blocks;
mod branches;
mod cause;
mod config;
mod custom;
mod plan;
mod sizes;
#[cfg(test)]
mod tests;
mod walk;

use std::collections::HashMap;

use stride_geometry::Field;

pub use config::Level;
pub use plan::is_generated;
pub use walk::{AXES, Walk};

use crate::ctxt::Ctxt;
use crate::model::{Plan, Shape, Sizes, Stub};
use crate::parse::{BlockDef, Invocation, Item, NetworkDef, Value};
use config::{Config, check_config};
use walk::{Scope, check_input_shape};

/// The outcome of checking an invocation: a plan for every network that checked, a stub for
/// every one that did not, the blocks other invocations may bring in, and every error.
pub struct Checked {
    pub plans: Vec<Plan>,
    pub stubs: Vec<Stub>,
    pub blocks: Vec<Exported>,
    pub errors: syn::Result<()>,
}

/// A block declared here, for the macro that hands it to other invocations.
pub struct Exported {
    pub vis: syn::Visibility,
    pub name: syn::Ident,
    /// The block's declaration as written.
    pub tokens: proc_macro2::TokenStream,
    /// The blocks it uses, each as an `@import { … }` item, every one after those it uses:
    /// handed over with it, so that it checks wherever it is brought in.
    pub uses: Vec<proc_macro2::TokenStream>,
    /// `#[export]`: other crates may bring it in.
    pub export: bool,
}

/// What a call's kind can name besides a layer: a block, or a network declared earlier in the
/// same invocation. Each is read once, where it is declared.
enum Definition {
    Block {
        def: BlockDef,
        config: Config,
        sound: bool,
        /// The block as an `@import { … }` item, to hand over with the blocks that use it.
        item: proc_macro2::TokenStream,
    },
    Network {
        def: NetworkDef,
        config: Config,
        input: Option<[usize; 3]>,
    },
}

/// Checks every item of an invocation. Blocks are checked once on their own (names, kinds,
/// literals), then again at every instance, with the instance's arguments and input shape.
pub fn check(invocation: Invocation) -> Checked {
    let mut cx = Ctxt::default();
    let mut definitions: HashMap<String, Definition> = HashMap::new();
    let mut plans = Vec::new();
    let mut stubs = Vec::new();
    let mut exported = Vec::new();
    for (item, tokens) in invocation.items.into_iter().zip(invocation.tokens) {
        let name = match &item {
            Item::Block(block) => &block.name,
            Item::Network(network) => &network.name,
            // Brought in before checking (`lib.rs`); nothing is left of it here.
            Item::Use(_) => continue,
        };
        // A block brought in twice (itself, and as one that another block uses) is the same
        // declaration: the first one stands.
        let imported_again = matches!(&item, Item::Block(b) if b.imported)
            && definitions.contains_key(&name.to_string());
        if imported_again || !check_unique_item(&mut cx, name, &definitions) {
            continue;
        }
        let name = name.to_string();
        match item {
            Item::Block(def) => {
                // An imported block's errors were reported where it was declared.
                let mut quiet = Ctxt::default();
                let report = if def.imported { &mut quiet } else { &mut cx };
                let config = check_config(report, &def.config);
                let sound = blocks::check_block_definition(report, &def, &config, &definitions);
                let item = if def.imported {
                    tokens.clone()
                } else {
                    quote::quote!(@import { #tokens })
                };
                if config.export && !matches!(def.vis, syn::Visibility::Public(_)) {
                    report.error(
                        def.name.span(),
                        format!(
                            "`{}`: `#[export]` hands a block to other crates, so it must be a \
                             `pub block`",
                            def.name
                        ),
                    );
                }
                if !def.imported {
                    exported.push(Exported {
                        vis: def.vis.clone(),
                        name: def.name.clone(),
                        uses: blocks::uses(&def, &definitions),
                        tokens,
                        export: config.export,
                    });
                }
                let block = Definition::Block {
                    def,
                    config,
                    sound,
                    item,
                };
                definitions.insert(name, block);
            }
            Item::Use(_) => {}
            Item::Network(def) => {
                let config = check_config(&mut cx, &def.config);
                if config.export {
                    cx.error(
                        def.name.span(),
                        format!(
                            "`{}`: `#[export]` is for a `pub block`; a network is used from \
                             another crate by its path, as any Rust type",
                            def.name
                        ),
                    );
                }
                let input = check_input_shape(&mut cx, &def);
                match check_network(&mut cx, &def, &config, input, &definitions) {
                    Ok(plan) => plans.push(plan),
                    Err(stub) => stubs.push(*stub),
                }
                let network = Definition::Network { def, config, input };
                definitions.insert(name, network);
            }
        }
    }
    Checked {
        plans,
        stubs,
        blocks: exported,
        errors: cx.finish(),
    }
}

/// A network's or block's name is not declared twice in one invocation.
fn check_unique_item(
    cx: &mut Ctxt,
    name: &syn::Ident,
    definitions: &HashMap<String, Definition>,
) -> bool {
    if definitions.contains_key(&name.to_string()) {
        cx.error(name.span(), format!("`{name}` is declared twice"));
        return false;
    }
    true
}

/// Checks a network and lays it out as a [`Plan`]; or, if anything in it is wrong, returns
/// what its stub can still say.
///
/// A network whose height or width is a name (`[3, H, W]`) is walked twice: at any size on
/// those axes, which checks everything that does not depend on the size and gives each axis's
/// size program, from which the sizes it takes follow; then at the smallest of them, for the
/// layers' shapes and costs in the summary.
fn check_network(
    cx: &mut Ctxt,
    def: &NetworkDef,
    config: &Config,
    input: Option<[usize; 3]>,
    definitions: &HashMap<String, Definition>,
) -> Result<Plan, Box<Stub>> {
    let before = cx.error_count();
    let walked = walk_network(cx, def, config, definitions, input);
    let stub = |walked: &Walked| {
        Box::new(Stub {
            attrs: def.attrs.clone(),
            vis: def.vis.clone(),
            name: def.name.clone(),
            input,
            flat: match walked.shape {
                Some(shape) => matches!(shape, Shape::Flat(_)),
                None => walked.seen.flattens,
            },
            accessors: walked.seen.accessors.clone(),
            customs: walked.seen.customs.clone(),
            externals: walked.seen.externals.clone(),
        })
    };
    let (Some(input), Some(output), true) = (input, walked.shape, cx.error_count() == before)
    else {
        return Err(stub(&walked));
    };
    let built = plan::build(cx, walked.trees.clone());
    if cx.error_count() != before {
        return Err(stub(&walked));
    }
    let mut sizes = [0, 1].map(|axis| Sizes {
        name: None,
        min: input[axis + 1],
        step: 0,
        regular: true,
    });
    for (axis, value) in def.input[1..].iter().enumerate() {
        let Value::Name(name) = value else { continue };
        match sizes::accepted(&built.flows[axis], &name.to_string()) {
            Ok(taken) => sizes[axis] = taken,
            Err((size, error)) => {
                let network = def.name.to_string();
                let message = sizes::none_taken(&network, axis, size, &error, &built);
                cx.error(name.span(), message);
            }
        }
    }
    if cx.error_count() != before {
        return Err(stub(&walked));
    }
    let (built, field) = if sizes.iter().all(|s| s.name.is_none()) {
        (built, walked.field)
    } else {
        // The layers' shapes and costs at the smallest size taken: what the summary shows.
        let smallest = [input[0], sizes[0].min, sizes[1].min];
        let mut quiet = Ctxt::default();
        let at = walk_network(&mut quiet, def, config, definitions, Some(smallest));
        let built = plan::build(&mut quiet, at.trees);
        if let Err(errors) = quiet.finish() {
            // The size program said this size passes: a disagreement is the macro's bug, and
            // the user should see where.
            cx.error(
                def.name.span(),
                format!(
                    "`{}`: internal error: the size program takes {:?} but a layer refuses it: {errors}",
                    def.name, smallest
                ),
            );
            return Err(stub(&walked));
        }
        (built, at.field)
    };
    let params = built
        .layers
        .iter()
        .map(|l| l.params)
        .fold(0u64, u64::saturating_add);
    let macs = built
        .layers
        .iter()
        .map(|l| l.macs)
        .fold(0u64, u64::saturating_add);
    Ok(Plan {
        attrs: def.attrs.clone(),
        vis: def.vis.clone(),
        name: def.name.clone(),
        input,
        output,
        layers: built.layers,
        groups: built.groups,
        externals: built.externals,
        nodes: built.nodes,
        rows: built.rows,
        params,
        macs,
        field,
        warnings: walked.warnings,
        flows: built.flows,
        sizes,
    })
}

/// What walking a network's entries gives.
struct Walked {
    trees: Vec<crate::model::Tree>,
    shape: Option<Shape>,
    field: Option<[Field; 2]>,
    warnings: Vec<crate::model::Warning>,
    seen: walk::Seen,
}

/// Walks a network's entries from `input`.
fn walk_network(
    cx: &mut Ctxt,
    def: &NetworkDef,
    config: &Config,
    definitions: &HashMap<String, Definition>,
    input: Option<[usize; 3]>,
) -> Walked {
    let mut walk = Walk::new(
        cx,
        config,
        definitions,
        input.map(Shape::Map),
        Some([Field::INPUT; 2]),
    );
    walk.generic = def.input[1..].iter().any(|v| matches!(v, Value::Name(_)));
    let trees = walk.entries(&def.entries, &Scope::root());
    let (shape, field, warnings, seen) = walk.finish();
    Walked {
        trees,
        shape,
        field,
        warnings,
        seen,
    }
}
