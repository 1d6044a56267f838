//! A restricted unpickler: the part of Python's pickle protocol (versions 2 to 5) that
//! `torch.save` writes for a `state_dict` or a checkpoint dict, and nothing that runs code.
//!
//! A pickle is a program for a stack machine. Most of its opcodes build plain values (ints,
//! strings, tuples, lists, dicts); two call Python: `GLOBAL` names a callable and `REDUCE`
//! calls it. Python's unpickler imports and runs whatever a file names, which is how a
//! hostile `.pth` runs `os.system`. This one knows four callables by name, the ones a
//! `state_dict` needs ([`Global`]), and turns every other name into an error naming it;
//! nothing is ever imported or called.
//!
//! Hostile input is bounded: every value pushed and every memo copy counts against
//! [`MAX_VALUES`], containers nest at most [`MAX_DEPTH`] deep, and every length is checked
//! against the bytes that remain before anything is allocated.

use std::collections::HashMap;

use safetensors::Dtype;

/// The most values (counting every element of a copied memo entry) one pickle may build.
/// Measured: torchvision's ResNet-50 `state_dict` (320 tensors) builds 15,221, and a
/// checkpoint of it with Adam's state 36,849; the limit leaves room for models 30 times larger.
const MAX_VALUES: usize = 1 << 20;

/// The deepest that containers may nest. A checkpoint's optimizer state nests 4 deep.
const MAX_DEPTH: usize = 64;

/// A value the pickle built.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Value {
    None,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Bytes(Vec<u8>),
    List(Vec<Value>),
    Tuple(Vec<Value>),
    /// A `dict` or `collections.OrderedDict`, its entries in the order the pickle set them.
    Dict(Vec<(Value, Value)>),
    /// One of the callables a `state_dict` needs.
    Global(Global),
    /// A tensor's storage, as `torch.save`'s persistent id names it.
    Storage(Storage),
    Tensor(Tensor),
}

/// The only callables a pickle may name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Global {
    /// `collections.OrderedDict`: a state_dict's own type, and a tensor's empty hook dict.
    OrderedDict,
    /// `torch._utils._rebuild_tensor_v2`: a tensor from a storage, offset, shape and strides.
    RebuildTensor,
    /// `torch._utils._rebuild_parameter` and `_rebuild_parameter_with_state`: an
    /// `nn.Parameter` around a tensor.
    RebuildParameter,
    /// `torch.FloatStorage`, `torch.HalfStorage`, …: the element type of a storage.
    StorageType(Dtype),
}

/// A storage named by a persistent id: `('storage', torch.FloatStorage, '0', 'cpu', 6)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Storage {
    /// The name of its bytes in the archive, under `data/`.
    pub key: String,
    pub dtype: Dtype,
    /// Its length in elements.
    pub len: usize,
}

/// A tensor: a view of a storage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Tensor {
    pub storage: Storage,
    /// Where the view starts in the storage, in elements.
    pub offset: usize,
    pub shape: Vec<usize>,
    /// In elements, one per axis.
    pub strides: Vec<usize>,
}

/// Why a pickle could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum PickleError {
    /// The pickle names a callable that is not one of [`Global`]'s (`module.name`).
    Forbidden(String),
    /// Anything else: what is malformed or unsupported, and at which byte.
    Malformed(String),
}

/// Reads the pickle in `bytes` to the value its `STOP` returns.
pub(super) fn unpickle(bytes: &[u8]) -> Result<Value, PickleError> {
    let mut machine = Machine {
        input: bytes,
        at: 0,
        stack: Vec::new(),
        marks: Vec::new(),
        memo: HashMap::new(),
        built: 0,
    };
    machine.run()
}

/// The unpickler's state: the input and where it is, the stack, the marks on it, the memo.
struct Machine<'a> {
    input: &'a [u8],
    at: usize,
    stack: Vec<Value>,
    /// The stack's length at each open `MARK`.
    marks: Vec<usize>,
    memo: HashMap<u32, Value>,
    /// Values built so far, against [`MAX_VALUES`].
    built: usize,
}

impl<'a> Machine<'a> {
    fn run(&mut self) -> Result<Value, PickleError> {
        loop {
            let at = self.at;
            let op = self.byte()?;
            match op {
                // PROTO: the protocol version.
                0x80 => {
                    let version = self.byte()?;
                    if version > 5 {
                        return Err(self.malformed(at, &format!("pickle protocol {version}")));
                    }
                }
                // FRAME: a length prefix for what follows; the bytes are read as they come.
                0x95 => {
                    self.take(8)?;
                }
                b'.' => {
                    let value = self.pop(at)?;
                    return Ok(value);
                }
                b'N' => self.push(Value::None)?,
                0x88 => self.push(Value::Bool(true))?,
                0x89 => self.push(Value::Bool(false))?,
                b'K' => {
                    let v = self.byte()?;
                    self.push(Value::Int(v.into()))?;
                }
                b'M' => {
                    let v = u16::from_le_bytes(self.array()?);
                    self.push(Value::Int(v.into()))?;
                }
                b'J' => {
                    let v = i32::from_le_bytes(self.array()?);
                    self.push(Value::Int(v.into()))?;
                }
                // LONG1 and LONG4: a little-endian two's complement integer of n bytes.
                0x8a | 0x8b => {
                    let n = if op == 0x8a {
                        usize::from(self.byte()?)
                    } else {
                        self.length_u32()?
                    };
                    let digits = self.take(n)?;
                    let value = long(digits).ok_or_else(|| {
                        self.malformed(at, &format!("an integer of {n} bytes (the most is 8)"))
                    })?;
                    self.push(Value::Int(value))?;
                }
                b'G' => {
                    let v = f64::from_be_bytes(self.array()?);
                    self.push(Value::Float(v))?;
                }
                // SHORT_BINUNICODE, BINUNICODE, BINUNICODE8.
                0x8c | b'X' | 0x8d => {
                    let n = match op {
                        0x8c => usize::from(self.byte()?),
                        b'X' => self.length_u32()?,
                        _ => self.length_u64()?,
                    };
                    let text = self.take(n)?;
                    let text = std::str::from_utf8(text)
                        .map_err(|_| self.malformed(at, "a string that is not UTF-8"))?;
                    self.push(Value::Str(text.to_owned()))?;
                }
                // SHORT_BINBYTES, BINBYTES, BINBYTES8.
                b'C' | b'B' | 0x8e => {
                    let n = match op {
                        b'C' => usize::from(self.byte()?),
                        b'B' => self.length_u32()?,
                        _ => self.length_u64()?,
                    };
                    let bytes = self.take(n)?.to_vec();
                    self.push(Value::Bytes(bytes))?;
                }
                b'(' => self.marks.push(self.stack.len()),
                b')' => self.push(Value::Tuple(Vec::new()))?,
                b't' => {
                    let items = self.pop_mark(at)?;
                    self.push_container(at, Value::Tuple(items))?;
                }
                0x85..=0x87 => {
                    // Popped one by one, so that a tuple cannot reach below an open MARK.
                    let n = usize::from(op - 0x84);
                    let mut items = (0..n)
                        .map(|_| self.pop(at))
                        .collect::<Result<Vec<_>, _>>()?;
                    items.reverse();
                    self.push_container(at, Value::Tuple(items))?;
                }
                b']' => self.push(Value::List(Vec::new()))?,
                b'l' => {
                    let items = self.pop_mark(at)?;
                    self.push_container(at, Value::List(items))?;
                }
                b'a' => {
                    let item = self.pop(at)?;
                    self.extend_list(at, vec![item])?;
                }
                b'e' => {
                    let items = self.pop_mark(at)?;
                    self.extend_list(at, items)?;
                }
                b'}' => self.push(Value::Dict(Vec::new()))?,
                b'd' => {
                    let items = self.pop_mark(at)?;
                    let dict = Value::Dict(pairs(items).ok_or_else(|| self.odd_items(at))?);
                    self.push_container(at, dict)?;
                }
                b's' => {
                    let value = self.pop(at)?;
                    let key = self.pop(at)?;
                    self.extend_dict(at, vec![(key, value)])?;
                }
                b'u' => {
                    let items = self.pop_mark(at)?;
                    let items = pairs(items).ok_or_else(|| self.odd_items(at))?;
                    self.extend_dict(at, items)?;
                }
                // BINPUT, LONG_BINPUT, MEMOIZE: copy the top of the stack into the memo.
                b'q' | b'r' | 0x94 => {
                    let index = match op {
                        b'q' => u32::from(self.byte()?),
                        b'r' => u32::from_le_bytes(self.array()?),
                        _ => u32::try_from(self.memo.len())
                            .map_err(|_| self.malformed(at, "a memo of 2^32 entries"))?,
                    };
                    let top = self
                        .stack
                        .last()
                        .ok_or_else(|| self.malformed(at, "a memo entry of an empty stack"))?;
                    let copy = top.clone();
                    self.count(at, count_values(&copy))?;
                    self.memo.insert(index, copy);
                }
                // BINGET, LONG_BINGET: push a copy of a memo entry.
                b'h' | b'j' => {
                    let index = if op == b'h' {
                        u32::from(self.byte()?)
                    } else {
                        u32::from_le_bytes(self.array()?)
                    };
                    let copy = self
                        .memo
                        .get(&index)
                        .ok_or_else(|| self.malformed(at, &format!("memo entry {index}, unset")))?
                        .clone();
                    self.count(at, count_values(&copy))?;
                    self.stack.push(copy);
                }
                b'0' => {
                    self.pop(at)?;
                }
                b'1' => {
                    self.pop_mark(at)?;
                }
                b'2' => {
                    let top = self.pop(at)?;
                    self.count(at, count_values(&top))?;
                    self.stack.push(top.clone());
                    self.stack.push(top);
                }
                // GLOBAL: `module\nname\n`.
                b'c' => {
                    let module = self.line(at)?;
                    let name = self.line(at)?;
                    let global = global(&module, &name)?;
                    self.push(Value::Global(global))?;
                }
                // STACK_GLOBAL: the module and name are strings on the stack.
                0x93 => {
                    let name = self.pop(at)?;
                    let module = self.pop(at)?;
                    let (Value::Str(module), Value::Str(name)) = (module, name) else {
                        return Err(
                            self.malformed(at, "STACK_GLOBAL of values that are not strings")
                        );
                    };
                    let global = global(&module, &name)?;
                    self.push(Value::Global(global))?;
                }
                b'Q' => {
                    let id = self.pop(at)?;
                    let storage = storage(id).map_err(|what| self.malformed(at, &what))?;
                    self.push(Value::Storage(storage))?;
                }
                b'R' => {
                    let args = self.pop(at)?;
                    let callable = self.pop(at)?;
                    let value = reduce(callable, args).map_err(|what| self.malformed(at, &what))?;
                    self.push(value)?;
                }
                // BUILD: a state_dict is an OrderedDict whose attributes (its `_metadata` of
                // module versions) come as a BUILD state. Nothing else takes one.
                b'b' => {
                    let _state = self.pop(at)?;
                    if !matches!(self.stack.last(), Some(Value::Dict(_))) {
                        return Err(self.malformed(at, "BUILD of an object that is not a dict"));
                    }
                }
                other => {
                    let what =
                        format!("opcode 0x{other:02x}, which a torch.save state_dict does not use");
                    return Err(self.malformed(at, &what));
                }
            }
        }
    }

    fn malformed(&self, at: usize, what: &str) -> PickleError {
        PickleError::Malformed(format!("pickle byte {at}: {what}"))
    }

    fn odd_items(&self, at: usize) -> PickleError {
        self.malformed(at, "a dict of an odd number of items")
    }

    /// The next `n` bytes, or an error when fewer remain.
    fn take(&mut self, n: usize) -> Result<&'a [u8], PickleError> {
        let end = self
            .at
            .checked_add(n)
            .filter(|&end| end <= self.input.len())
            .ok_or_else(|| {
                PickleError::Malformed(format!(
                    "pickle byte {}: {n} bytes needed, {} remain (the pickle is truncated)",
                    self.at,
                    self.input.len() - self.at
                ))
            })?;
        let input: &'a [u8] = self.input;
        let bytes = &input[self.at..end];
        self.at = end;
        Ok(bytes)
    }

    fn byte(&mut self) -> Result<u8, PickleError> {
        Ok(self.take(1)?[0])
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], PickleError> {
        let bytes = self.take(N)?;
        Ok(bytes.try_into().expect("take returns N bytes"))
    }

    fn length_u32(&mut self) -> Result<usize, PickleError> {
        let n = u32::from_le_bytes(self.array()?);
        usize::try_from(n).map_err(|_| self.malformed(self.at, "a length past usize"))
    }

    fn length_u64(&mut self) -> Result<usize, PickleError> {
        let n = u64::from_le_bytes(self.array()?);
        usize::try_from(n).map_err(|_| self.malformed(self.at, "a length past usize"))
    }

    /// A newline-terminated line, as `GLOBAL` spells its module and name.
    fn line(&mut self, at: usize) -> Result<String, PickleError> {
        let rest = &self.input[self.at..];
        let end = rest
            .iter()
            .position(|&b| b == b'\n')
            .ok_or_else(|| self.malformed(at, "a GLOBAL whose name has no end"))?;
        let text = std::str::from_utf8(&rest[..end])
            .map_err(|_| self.malformed(at, "a GLOBAL name that is not UTF-8"))?
            .to_owned();
        self.at += end + 1;
        Ok(text)
    }

    fn count(&mut self, at: usize, values: usize) -> Result<(), PickleError> {
        self.built = self.built.saturating_add(values);
        if self.built > MAX_VALUES {
            let what = format!("more than {MAX_VALUES} values, more than a checkpoint needs");
            return Err(self.malformed(at, &what));
        }
        Ok(())
    }

    fn push(&mut self, value: Value) -> Result<(), PickleError> {
        self.count(self.at, 1)?;
        self.stack.push(value);
        Ok(())
    }

    /// Pushes a container built of values already on the stack, once its depth is checked.
    fn push_container(&mut self, at: usize, value: Value) -> Result<(), PickleError> {
        self.check_depth(at, &value)?;
        self.push(value)
    }

    fn check_depth(&self, at: usize, value: &Value) -> Result<(), PickleError> {
        self.check_item_depth(at, depth(value).saturating_sub(1))
    }

    /// Checks a container holding an item `item_depth` deep.
    fn check_item_depth(&self, at: usize, item_depth: usize) -> Result<(), PickleError> {
        if item_depth + 1 > MAX_DEPTH {
            let what = format!("containers nested more than {MAX_DEPTH} deep");
            return Err(self.malformed(at, &what));
        }
        Ok(())
    }

    fn pop(&mut self, at: usize) -> Result<Value, PickleError> {
        if self
            .marks
            .last()
            .is_some_and(|&mark| mark >= self.stack.len())
        {
            return Err(self.malformed(at, "a pop past the last MARK"));
        }
        self.stack
            .pop()
            .ok_or_else(|| self.malformed(at, "a pop of an empty stack"))
    }

    /// The values pushed since the last `MARK`, which it closes.
    fn pop_mark(&mut self, at: usize) -> Result<Vec<Value>, PickleError> {
        let mark = self
            .marks
            .pop()
            .ok_or_else(|| self.malformed(at, "an opcode that needs a MARK, with none open"))?;
        if mark > self.stack.len() {
            return Err(self.malformed(at, "a MARK above the top of the stack"));
        }
        Ok(self.stack.split_off(mark))
    }

    fn extend_list(&mut self, at: usize, items: Vec<Value>) -> Result<(), PickleError> {
        let Some(Value::List(list)) = self.stack.last_mut() else {
            return Err(self.malformed(at, "APPEND to something that is not a list"));
        };
        // The list itself was checked when pushed: only the new items can deepen it.
        let deepest = items.iter().map(depth).max().unwrap_or(0);
        list.extend(items);
        self.check_item_depth(at, deepest)
    }

    fn extend_dict(&mut self, at: usize, items: Vec<(Value, Value)>) -> Result<(), PickleError> {
        let Some(Value::Dict(dict)) = self.stack.last_mut() else {
            return Err(self.malformed(at, "SETITEM on something that is not a dict"));
        };
        let deepest = items
            .iter()
            .map(|(k, v)| depth(k).max(depth(v)))
            .max()
            .unwrap_or(0);
        dict.extend(items);
        self.check_item_depth(at, deepest)
    }
}

/// A little-endian two's complement integer of at most 8 bytes (none is 0).
fn long(digits: &[u8]) -> Option<i64> {
    if digits.len() > 8 {
        return None;
    }
    let negative = digits.last().is_some_and(|&b| b & 0x80 != 0);
    let mut bytes = [if negative { 0xff } else { 0 }; 8];
    bytes[..digits.len()].copy_from_slice(digits);
    Some(i64::from_le_bytes(bytes))
}

/// Alternate keys and values, as pairs; `None` for an odd count.
fn pairs(items: Vec<Value>) -> Option<Vec<(Value, Value)>> {
    if items.len() % 2 != 0 {
        return None;
    }
    let mut items = items.into_iter();
    let mut pairs = Vec::with_capacity(items.len() / 2);
    while let (Some(key), Some(value)) = (items.next(), items.next()) {
        pairs.push((key, value));
    }
    Some(pairs)
}

/// How deep containers nest in `value` (0 for a scalar). Every value on the stack has been
/// checked, so the recursion is at most [`MAX_DEPTH`] + 1 deep.
fn depth(value: &Value) -> usize {
    let items: Box<dyn Iterator<Item = &Value>> = match value {
        Value::List(items) | Value::Tuple(items) => Box::new(items.iter()),
        Value::Dict(pairs) => Box::new(pairs.iter().flat_map(|(k, v)| [k, v])),
        _ => return 0,
    };
    1 + items.map(depth).max().unwrap_or(0)
}

/// How many values `value` holds, itself included: what a copy of it costs.
fn count_values(value: &Value) -> usize {
    match value {
        Value::List(items) | Value::Tuple(items) => {
            1 + items.iter().map(count_values).sum::<usize>()
        }
        Value::Dict(pairs) => {
            1 + pairs
                .iter()
                .map(|(k, v)| count_values(k) + count_values(v))
                .sum::<usize>()
        }
        _ => 1,
    }
}

/// The callable `module.name`, if it is one a state_dict needs.
fn global(module: &str, name: &str) -> Result<Global, PickleError> {
    let global = match (module, name) {
        ("collections", "OrderedDict") => Global::OrderedDict,
        ("torch._utils", "_rebuild_tensor_v2") => Global::RebuildTensor,
        ("torch._utils", "_rebuild_parameter" | "_rebuild_parameter_with_state") => {
            Global::RebuildParameter
        }
        ("torch", storage) => match storage_dtype(storage) {
            Some(dtype) => Global::StorageType(dtype),
            None => return Err(PickleError::Forbidden(format!("{module}.{name}"))),
        },
        _ => return Err(PickleError::Forbidden(format!("{module}.{name}"))),
    };
    Ok(global)
}

/// The element type of torch's storage class `name`.
fn storage_dtype(name: &str) -> Option<Dtype> {
    Some(match name {
        "FloatStorage" => Dtype::F32,
        "HalfStorage" => Dtype::F16,
        "BFloat16Storage" => Dtype::BF16,
        "DoubleStorage" => Dtype::F64,
        "LongStorage" => Dtype::I64,
        "IntStorage" => Dtype::I32,
        "ShortStorage" => Dtype::I16,
        "CharStorage" => Dtype::I8,
        "ByteStorage" => Dtype::U8,
        "BoolStorage" => Dtype::BOOL,
        _ => return None,
    })
}

/// The storage a persistent id names: `('storage', torch.FloatStorage, key, location, len)`.
fn storage(id: Value) -> Result<Storage, String> {
    let bad =
        || format!("a persistent id that is not ('storage', type, key, location, size): {id:?}");
    let Value::Tuple(items) = &id else {
        return Err(bad());
    };
    match &items[..] {
        [
            Value::Str(kind),
            Value::Global(Global::StorageType(dtype)),
            Value::Str(key),
            Value::Str(_location),
            Value::Int(len),
        ] if kind == "storage" => Ok(Storage {
            key: key.clone(),
            dtype: *dtype,
            len: usize::try_from(*len).map_err(|_| format!("a storage of {len} elements"))?,
        }),
        _ => Err(bad()),
    }
}

/// What calling `callable` with `args` gives, for the callables [`Global`] allows.
fn reduce(callable: Value, args: Value) -> Result<Value, String> {
    let Value::Tuple(args) = args else {
        return Err(format!(
            "REDUCE with arguments that are not a tuple: {args:?}"
        ));
    };
    match callable {
        Value::Global(Global::OrderedDict) if args.is_empty() => Ok(Value::Dict(Vec::new())),
        Value::Global(Global::RebuildTensor) => rebuild_tensor(args).map(Value::Tensor),
        Value::Global(Global::RebuildParameter) => match args.into_iter().next() {
            Some(Value::Tensor(tensor)) => Ok(Value::Tensor(tensor)),
            _ => Err("a parameter rebuilt from something that is not a tensor".into()),
        },
        other => Err(format!("REDUCE of {other:?} with {} arguments", args.len())),
    }
}

/// `_rebuild_tensor_v2(storage, offset, shape, strides, requires_grad, hooks[, metadata])`.
fn rebuild_tensor(args: Vec<Value>) -> Result<Tensor, String> {
    let mut args = args.into_iter();
    let (Some(Value::Storage(storage)), Some(Value::Int(offset)), Some(shape), Some(strides)) =
        (args.next(), args.next(), args.next(), args.next())
    else {
        return Err(
            "a tensor rebuilt from arguments other than (storage, offset, shape, strides, …)"
                .into(),
        );
    };
    let sizes = |value: Value, what: &str| -> Result<Vec<usize>, String> {
        let Value::Tuple(items) = value else {
            return Err(format!("a tensor whose {what} is not a tuple"));
        };
        items
            .into_iter()
            .map(|item| match item {
                Value::Int(n) => usize::try_from(n).map_err(|_| format!("a tensor {what} of {n}")),
                other => Err(format!("a tensor {what} holding {other:?}")),
            })
            .collect()
    };
    let shape = sizes(shape, "shape")?;
    let strides = sizes(strides, "strides")?;
    if shape.len() != strides.len() {
        return Err(format!(
            "a tensor of shape {shape:?} with strides {strides:?}: one stride per axis is needed"
        ));
    }
    Ok(Tensor {
        storage,
        offset: usize::try_from(offset)
            .map_err(|_| format!("a tensor at storage offset {offset}"))?,
        shape,
        strides,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_reads_twos_complement_of_any_width_up_to_eight_bytes() {
        assert_eq!(long(&[]), Some(0));
        assert_eq!(long(&[0xff]), Some(-1));
        assert_eq!(long(&[0x00, 0x01]), Some(256));
        assert_eq!(long(&[0; 9]), None);
    }

    #[test]
    fn a_short_tuple_cannot_take_items_below_an_open_mark() {
        // NONE NONE MARK TUPLE2 TUPLE STOP: TUPLE2 would reach under the MARK, and the TUPLE
        // after it would then close a MARK above the top of the stack.
        let err = unpickle(&[0x80, 2, b'N', b'N', b'(', 0x86, b't', b'.']).unwrap_err();
        assert!(
            matches!(&err, PickleError::Malformed(m) if m.contains("MARK")),
            "{err:?}"
        );
        // Without the MARK, the same tuple is two Nones.
        let ok = unpickle(&[0x80, 2, b'N', b'N', 0x86, b'.']).unwrap();
        assert!(matches!(ok, Value::Tuple(items) if items.len() == 2));
    }

    #[test]
    fn a_tuple_chain_deeper_than_the_limit_is_refused() {
        let mut pickle = vec![0x80, 2, b')'];
        pickle.extend(std::iter::repeat_n(0x85, MAX_DEPTH + 1));
        pickle.push(b'.');
        let err = unpickle(&pickle).unwrap_err();
        assert!(
            matches!(&err, PickleError::Malformed(m) if m.contains("nested")),
            "{err:?}"
        );
    }

    #[test]
    fn doubling_memo_copies_stop_at_the_value_budget() {
        // A list, then 40 rounds of: memoize it, push a copy, pack both in a new list.
        let mut pickle = vec![0x80, 2, b']'];
        for _ in 0..40 {
            pickle.extend([b'q', 0, b'0', b'(', b'h', 0, b'h', 0, b'l']);
        }
        pickle.push(b'.');
        let err = unpickle(&pickle).unwrap_err();
        assert!(
            matches!(&err, PickleError::Malformed(m) if m.contains("values")),
            "{err:?}"
        );
    }

    #[test]
    fn a_global_outside_the_list_is_named_and_not_run() {
        let pickle = b"\x80\x02cos\nsystem\nX\x02\x00\x00\x00lsq\x00\x85R.";
        assert_eq!(
            unpickle(pickle),
            Err(PickleError::Forbidden("os.system".into()))
        );
    }
}
