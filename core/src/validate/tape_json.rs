//! The `jsonschema` crate's instance representation for a `Tape`, so a compiled schema checks a
//! document in place: a node is the tape and an index, strings are borrowed, numbers are the ones
//! `parse` would have made. Objects are looked up by a scan of their members (model outputs have
//! few keys per object; the scan beats hashing there, as the crate's own `serde_json` view does).

use super::tape::{Item, Tape};
use jsonschema::json::{Array, Json, Node, NodeIdentity, Object};
use jsonschema::JsonType;
use serde_json::Value;
use std::borrow::Cow;

pub struct TapeJson;

#[derive(Clone, Copy)]
pub struct TapeNode<'a> {
    tape: &'a Tape<'a>,
    at: u32,
}

impl<'a> TapeNode<'a> {
    /// The document's root.
    pub fn root(tape: &'a Tape<'a>) -> Self {
        Self { tape, at: 0 }
    }

    #[inline]
    fn item(&self) -> &'a Item {
        &self.tape.items[self.at as usize]
    }
}

impl Json for TapeJson {
    type Node<'a> = TapeNode<'a>;
    type PreparedKey = String;
    type StringBuffer = ();

    // `get` is a scan, so a members pass replaces lookups early.
    const KEYS_PER_LOOKUP: usize = 2;
    const ACYCLIC: bool = true;

    fn prepare_key(key: &str) -> String {
        key.to_owned()
    }

    fn with_string_node<T>((): &mut (), string: &str, f: impl FnOnce(TapeNode<'_>) -> T) -> T {
        // `propertyNames` only: a one-string document. A JSON string literal of `string` always
        // parses (serde escapes it).
        let literal = Value::String(string.to_owned()).to_string();
        let tape = Tape::parse(
            &literal,
            &super::limits::Limits {
                max_input_bytes: usize::MAX,
                max_depth: 1,
            },
        )
        .expect("a serialised JSON string parses");
        f(TapeNode::root(&tape))
    }
}

#[derive(Clone, Copy)]
pub struct TapeObject<'a>(TapeNode<'a>, u32);

#[derive(Clone, Copy)]
pub struct TapeArray<'a>(TapeNode<'a>, u32);

impl<'a> Node<'a, TapeJson> for TapeNode<'a> {
    type Object = TapeObject<'a>;
    type Array = TapeArray<'a>;
    type Number = &'a serde_json::Number;

    fn as_object(&self) -> Option<TapeObject<'a>> {
        match self.item() {
            Item::Object { len, .. } => Some(TapeObject(*self, *len)),
            _ => None,
        }
    }

    fn as_array(&self) -> Option<TapeArray<'a>> {
        match self.item() {
            Item::Array { len, .. } => Some(TapeArray(*self, *len)),
            _ => None,
        }
    }

    fn as_string(&self) -> Option<Cow<'a, str>> {
        match self.item() {
            Item::String(s) => Some(Cow::Borrowed(self.tape.str_of(*s))),
            _ => None,
        }
    }

    fn as_number(&self) -> Option<&'a serde_json::Number> {
        match self.item() {
            Item::Number(n) => Some(n),
            _ => None,
        }
    }

    fn as_boolean(&self) -> Option<bool> {
        match self.item() {
            Item::Bool(b) => Some(*b),
            _ => None,
        }
    }

    fn is_null(&self) -> bool {
        matches!(self.item(), Item::Null)
    }

    fn json_type(&self) -> JsonType {
        match self.item() {
            Item::Null => JsonType::Null,
            Item::Bool(_) => JsonType::Boolean,
            Item::Number(_) => JsonType::Number,
            Item::String(_) => JsonType::String,
            Item::Array { .. } => JsonType::Array,
            Item::Object { .. } => JsonType::Object,
        }
    }

    fn equals_value(&self, expected: &Value) -> bool {
        // Scalars compare without building a `Value` (`const` and `enum` are usually strings).
        match (self.item(), expected) {
            (Item::String(s), Value::String(e)) => self.tape.str_of(*s) == e,
            (Item::String(_), _) => false,
            (Item::Bool(b), Value::Bool(e)) => b == e,
            (Item::Null, e) => e.is_null(),
            _ => jsonschema::json::cmp::equal(&self.to_value(), expected),
        }
    }

    fn to_value(&self) -> Cow<'a, Value> {
        Cow::Owned(self.tape.to_value(self.at))
    }

    fn identity(&self) -> Option<NodeIdentity> {
        Some(NodeIdentity::tagged(
            std::ptr::from_ref::<Tape<'a>>(self.tape) as usize,
            self.at,
        ))
    }
}

pub struct Members<'a> {
    node: TapeNode<'a>,
    left: u32,
}

impl<'a> Iterator for Members<'a> {
    type Item = (&'a str, TapeNode<'a>);

    fn next(&mut self) -> Option<Self::Item> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        let tape = self.node.tape;
        let Item::String(k) = tape.items[self.node.at as usize] else {
            unreachable!("an object member starts with its key")
        };
        let value = TapeNode {
            tape,
            at: self.node.at + 1,
        };
        self.node.at = tape.end_of(value.at);
        Some((tape.str_of(k), value))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left as usize, Some(self.left as usize))
    }
}

impl<'a> Object<'a, TapeJson> for TapeObject<'a> {
    type Node = TapeNode<'a>;
    type MemberName = &'a str;
    type MembersIter = Members<'a>;

    fn len(&self) -> usize {
        self.1 as usize
    }

    fn get(&self, key: &String) -> Option<TapeNode<'a>> {
        // Keys are distinct: a tape with a repeated key is never built.
        self.members()
            .find(|(name, _)| *name == key)
            .map(|(_, value)| value)
    }

    fn members(&self) -> Members<'a> {
        Members {
            node: TapeNode {
                tape: self.0.tape,
                at: self.0.at + 1,
            },
            left: self.1,
        }
    }
}

pub struct Elements<'a> {
    node: TapeNode<'a>,
    left: u32,
}

impl<'a> Iterator for Elements<'a> {
    type Item = TapeNode<'a>;

    fn next(&mut self) -> Option<TapeNode<'a>> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        let node = self.node;
        self.node.at = node.tape.end_of(node.at);
        Some(node)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left as usize, Some(self.left as usize))
    }
}

impl<'a> Array<'a, TapeJson> for TapeArray<'a> {
    type Node = TapeNode<'a>;
    type ElementsIter = Elements<'a>;

    fn len(&self) -> usize {
        self.1 as usize
    }

    fn elements(&self) -> Elements<'a> {
        Elements {
            node: TapeNode {
                tape: self.0.tape,
                at: self.0.at + 1,
            },
            left: self.1,
        }
    }
}
