//! An ONNX graph under construction: nodes in order, initializers, and the names already
//! given, so every value gets a unique name that says where it came from.

use std::collections::{HashMap, HashSet};

use super::proto::attribute_proto::AttributeType;
use super::proto::tensor_proto::DataType;
use super::proto::tensor_shape_proto::{Dimension, dimension};
use super::proto::type_proto::{Tensor, Value};
use super::proto::{
    AttributeProto, NodeProto, TensorProto, TensorShapeProto, TypeProto, ValueInfoProto,
};

/// Nodes and initializers, in the order they were added.
#[derive(Default)]
pub(super) struct Builder {
    pub nodes: Vec<NodeProto>,
    pub initializers: Vec<TensorProto>,
    names: HashSet<String>,
    /// The scalar constants made so far, by name and value: each is written once.
    scalars: HashMap<(String, u32), String>,
}

impl Builder {
    /// `base`, or `base` with a number after it if that name is taken.
    pub fn fresh(&mut self, base: &str) -> String {
        let mut name = base.to_string();
        let mut n = 1;
        while !self.names.insert(name.clone()) {
            name = format!("{base}_{n}");
            n += 1;
        }
        name
    }

    /// Reserves `name` as it is (the graph's input).
    pub fn reserve(&mut self, name: &str) {
        self.names.insert(name.to_string());
    }

    /// A float initializer named `name` (made unique), of `shape`; returns its name.
    pub fn floats(
        &mut self,
        name: &str,
        shape: &[usize],
        values: impl IntoIterator<Item = f32>,
    ) -> String {
        let name = self.fresh(name);
        let raw_data = values.into_iter().flat_map(f32::to_le_bytes).collect();
        self.initializers.push(TensorProto {
            dims: shape.iter().map(|&d| d as i64).collect(),
            data_type: DataType::Float as i32,
            name: name.clone(),
            raw_data,
            ..TensorProto::default()
        });
        name
    }

    /// A 64-bit integer initializer (a shape, the bounds of a slice).
    pub fn ints(&mut self, name: &str, values: &[i64]) -> String {
        let name = self.fresh(name);
        self.initializers.push(TensorProto {
            dims: vec![values.len() as i64],
            data_type: DataType::Int64 as i32,
            name: name.clone(),
            raw_data: values.iter().flat_map(|v| v.to_le_bytes()).collect(),
            ..TensorProto::default()
        });
        name
    }

    /// A float scalar initializer, shared by every node that asks for the same one.
    pub fn scalar(&mut self, name: &str, value: f32) -> String {
        let key = (name.to_string(), value.to_bits());
        if let Some(existing) = self.scalars.get(&key) {
            return existing.clone();
        }
        let made = self.floats(name, &[], [value]);
        self.scalars.insert(key, made.clone());
        made
    }

    /// Adds a node of `op` named `name` on `inputs` (an empty string skips an optional input),
    /// and returns its output's name.
    pub fn node(
        &mut self,
        op: &str,
        name: &str,
        inputs: &[&str],
        attributes: Vec<AttributeProto>,
    ) -> String {
        let output = self.fresh(name);
        self.nodes.push(NodeProto {
            input: inputs.iter().map(|s| s.to_string()).collect(),
            output: vec![output.clone()],
            name: output.clone(),
            op_type: op.to_string(),
            attribute: attributes,
            ..NodeProto::default()
        });
        output
    }

    /// Gives the value `from` the name `to`: the output of the node that produced it is
    /// renamed, or an `Identity` node is added when no node did (the input itself).
    pub fn rename(&mut self, from: &str, to: &str) {
        self.names.insert(to.to_string());
        match self
            .nodes
            .iter_mut()
            .rev()
            .find(|n| n.output.iter().any(|o| o == from))
        {
            Some(node) => {
                for output in &mut node.output {
                    if output == from {
                        *output = to.to_string();
                    }
                }
            }
            None => self.nodes.push(NodeProto {
                input: vec![from.to_string()],
                output: vec![to.to_string()],
                name: to.to_string(),
                op_type: "Identity".to_string(),
                ..NodeProto::default()
            }),
        }
    }
}

/// An integer attribute.
pub(super) fn int(name: &str, value: i64) -> AttributeProto {
    AttributeProto {
        name: name.to_string(),
        r#type: AttributeType::Int as i32,
        i: value,
        ..AttributeProto::default()
    }
}

/// A list-of-integers attribute.
pub(super) fn ints(name: &str, values: &[i64]) -> AttributeProto {
    AttributeProto {
        name: name.to_string(),
        r#type: AttributeType::Ints as i32,
        ints: values.to_vec(),
        ..AttributeProto::default()
    }
}

/// A float attribute.
pub(super) fn float(name: &str, value: f32) -> AttributeProto {
    AttributeProto {
        name: name.to_string(),
        r#type: AttributeType::Float as i32,
        f: value,
        ..AttributeProto::default()
    }
}

/// A string attribute.
pub(super) fn string(name: &str, value: &str) -> AttributeProto {
    AttributeProto {
        name: name.to_string(),
        r#type: AttributeType::String as i32,
        s: value.as_bytes().to_vec(),
        ..AttributeProto::default()
    }
}

/// A float tensor value of `dims`, each a fixed size or a name (`batch`).
pub(super) fn float_value(name: &str, dims: &[Dim]) -> ValueInfoProto {
    let dim = dims
        .iter()
        .map(|d| Dimension {
            value: Some(match d {
                Dim::Fixed(n) => dimension::Value::DimValue(*n as i64),
                Dim::Named(s) => dimension::Value::DimParam(s.to_string()),
            }),
            ..Dimension::default()
        })
        .collect();
    ValueInfoProto {
        name: name.to_string(),
        r#type: Some(TypeProto {
            value: Some(Value::TensorType(Tensor {
                elem_type: DataType::Float as i32,
                shape: Some(TensorShapeProto { dim }),
            })),
            ..TypeProto::default()
        }),
        ..ValueInfoProto::default()
    }
}

/// One dimension of a graph's input or output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Dim {
    Fixed(usize),
    Named(&'static str),
}
