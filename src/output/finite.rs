//! The first number that is not finite in anything serialisable, with its path
//! (`costs.p2p.provider_usd`, `months[2].server_gb`): what `summary.json` would otherwise
//! write as `null` and `costs.csv` as `inf`. Writers refuse such values ([`OutputError::NonFinite`](crate::error::OutputError::NonFinite)).

use serde::ser::{self, Serialize};

/// The path and value of the first non-finite `f64`/`f32` in `value`, in serialisation order.
pub fn first_non_finite<T: Serialize + ?Sized>(value: &T) -> Option<(String, f64)> {
    let mut w = Walker {
        path: Vec::new(),
        found: None,
    };
    let _ = value.serialize(&mut w);
    w.found
}

struct Walker {
    path: Vec<String>,
    found: Option<(String, f64)>,
}

impl Walker {
    fn here(&self) -> String {
        let mut s = String::new();
        for p in &self.path {
            if p.starts_with('[') || s.is_empty() {
                s.push_str(p);
            } else {
                s.push('.');
                s.push_str(p);
            }
        }
        s
    }
    fn float(&mut self, v: f64) -> Result<(), Stop> {
        if v.is_finite() {
            Ok(())
        } else {
            self.found = Some((self.here(), v));
            Err(Stop)
        }
    }
    fn nested<T: Serialize + ?Sized>(&mut self, key: String, v: &T) -> Result<(), Stop> {
        self.path.push(key);
        let r = v.serialize(&mut *self);
        self.path.pop();
        r
    }
}

/// Stops the walk at the first find (and stands for any serialisation error).
#[derive(Debug)]
struct Stop;

impl std::fmt::Display for Stop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("stop")
    }
}
impl std::error::Error for Stop {}
impl ser::Error for Stop {
    fn custom<T: std::fmt::Display>(_: T) -> Self {
        Stop
    }
}

/// A sequence, tuple or map being walked: counts its elements for the path.
struct Compound<'a> {
    w: &'a mut Walker,
    index: usize,
    key: Option<String>,
}

macro_rules! ok {
    ($($name:ident($($arg:ty),*);)*) => {
        $(fn $name(self, $(_: $arg),*) -> Result<(), Stop> { Ok(()) })*
    };
}

impl<'a> ser::Serializer for &'a mut Walker {
    type Ok = ();
    type Error = Stop;
    type SerializeSeq = Compound<'a>;
    type SerializeTuple = Compound<'a>;
    type SerializeTupleStruct = Compound<'a>;
    type SerializeTupleVariant = Compound<'a>;
    type SerializeMap = Compound<'a>;
    type SerializeStruct = Compound<'a>;
    type SerializeStructVariant = Compound<'a>;

    ok! {
        serialize_bool(bool); serialize_i8(i8); serialize_i16(i16); serialize_i32(i32);
        serialize_i64(i64); serialize_u8(u8); serialize_u16(u16); serialize_u32(u32);
        serialize_u64(u64); serialize_char(char); serialize_str(&str); serialize_bytes(&[u8]);
        serialize_none(); serialize_unit(); serialize_unit_struct(&'static str);
        serialize_unit_variant(&'static str, u32, &'static str);
    }
    fn serialize_f32(self, v: f32) -> Result<(), Stop> {
        self.float(f64::from(v))
    }
    fn serialize_f64(self, v: f64) -> Result<(), Stop> {
        self.float(v)
    }
    fn serialize_some<T: Serialize + ?Sized>(self, v: &T) -> Result<(), Stop> {
        v.serialize(self)
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        v: &T,
    ) -> Result<(), Stop> {
        v.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        v: &T,
    ) -> Result<(), Stop> {
        self.nested(variant.to_string(), v)
    }
    fn serialize_seq(self, _: Option<usize>) -> Result<Compound<'a>, Stop> {
        Ok(Compound {
            w: self,
            index: 0,
            key: None,
        })
    }
    fn serialize_tuple(self, _: usize) -> Result<Compound<'a>, Stop> {
        self.serialize_seq(None)
    }
    fn serialize_tuple_struct(self, _: &'static str, _: usize) -> Result<Compound<'a>, Stop> {
        self.serialize_seq(None)
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Compound<'a>, Stop> {
        self.serialize_seq(None)
    }
    fn serialize_map(self, _: Option<usize>) -> Result<Compound<'a>, Stop> {
        self.serialize_seq(None)
    }
    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Compound<'a>, Stop> {
        self.serialize_seq(None)
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Compound<'a>, Stop> {
        self.serialize_seq(None)
    }
}

impl Compound<'_> {
    fn element<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), Stop> {
        let i = self.index;
        self.index += 1;
        self.w.nested(format!("[{i}]"), v)
    }
    fn field<T: Serialize + ?Sized>(&mut self, key: &str, v: &T) -> Result<(), Stop> {
        self.w.nested(key.to_string(), v)
    }
}

impl ser::SerializeSeq for Compound<'_> {
    type Ok = ();
    type Error = Stop;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), Stop> {
        self.element(v)
    }
    fn end(self) -> Result<(), Stop> {
        Ok(())
    }
}
impl ser::SerializeTuple for Compound<'_> {
    type Ok = ();
    type Error = Stop;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), Stop> {
        self.element(v)
    }
    fn end(self) -> Result<(), Stop> {
        Ok(())
    }
}
impl ser::SerializeTupleStruct for Compound<'_> {
    type Ok = ();
    type Error = Stop;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), Stop> {
        self.element(v)
    }
    fn end(self) -> Result<(), Stop> {
        Ok(())
    }
}
impl ser::SerializeTupleVariant for Compound<'_> {
    type Ok = ();
    type Error = Stop;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), Stop> {
        self.element(v)
    }
    fn end(self) -> Result<(), Stop> {
        Ok(())
    }
}
impl ser::SerializeMap for Compound<'_> {
    type Ok = ();
    type Error = Stop;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, k: &T) -> Result<(), Stop> {
        // Map keys in the outputs are strings; others are named by position.
        self.key = Some(key_text(k).unwrap_or_else(|| format!("[{}]", self.index)));
        Ok(())
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), Stop> {
        self.index += 1;
        let key = self.key.take().unwrap_or_default();
        self.w.nested(key, v)
    }
    fn end(self) -> Result<(), Stop> {
        Ok(())
    }
}
impl ser::SerializeStruct for Compound<'_> {
    type Ok = ();
    type Error = Stop;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        k: &'static str,
        v: &T,
    ) -> Result<(), Stop> {
        self.field(k, v)
    }
    fn end(self) -> Result<(), Stop> {
        Ok(())
    }
}
impl ser::SerializeStructVariant for Compound<'_> {
    type Ok = ();
    type Error = Stop;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        k: &'static str,
        v: &T,
    ) -> Result<(), Stop> {
        self.field(k, v)
    }
    fn end(self) -> Result<(), Stop> {
        Ok(())
    }
}

/// A map key as text when it serialises as a string.
fn key_text<T: Serialize + ?Sized>(k: &T) -> Option<String> {
    match serde_json::to_value(k) {
        Ok(serde_json::Value::String(s)) => Some(s),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[derive(serde::Serialize)]
    struct Month {
        gb: f64,
        peak: Option<f64>,
    }

    #[derive(serde::Serialize)]
    struct Summary {
        name: String,
        months: Vec<Month>,
        costs: BTreeMap<String, f64>,
    }

    #[test]
    fn the_first_non_finite_value_is_named_by_its_path() {
        let mut costs = BTreeMap::new();
        costs.insert("cdn".to_string(), 1.0);
        let mut s = Summary {
            name: "x".into(),
            months: vec![
                Month {
                    gb: 1.0,
                    peak: None,
                },
                Month {
                    gb: 2.0,
                    peak: Some(f64::INFINITY),
                },
            ],
            costs,
        };
        let (path, v) = first_non_finite(&s).expect("found");
        assert_eq!(path, "months[1].peak");
        assert!(v.is_infinite());
        s.months[1].peak = Some(3.0);
        assert!(
            first_non_finite(&s).is_none(),
            "None is not a non-finite number"
        );
        s.costs.insert("p2p".into(), f64::NAN);
        assert_eq!(
            first_non_finite(&s).map(|f| f.0).as_deref(),
            Some("costs.p2p")
        );
    }
}
