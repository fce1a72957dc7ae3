use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::PolicyError;

/// A size in bytes, written in configuration as `512M`, `1G` or a plain byte count.
///
/// Units are powers of 1024, as Docker reads `--memory 1g`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ByteSize(u64);

const UNITS: [(char, u64); 5] = [
    ('B', 1),
    ('K', 1 << 10),
    ('M', 1 << 20),
    ('G', 1 << 30),
    ('T', 1 << 40),
];

impl ByteSize {
    pub const fn bytes(bytes: u64) -> Self {
        Self(bytes)
    }

    pub const fn mib(mib: u64) -> Self {
        Self(mib << 20)
    }

    pub const fn gib(gib: u64) -> Self {
        Self(gib << 30)
    }

    pub const fn as_u64(self) -> u64 {
        self.0
    }

    /// The size as the signed integer the Docker Engine API expects.
    pub fn as_i64(self) -> i64 {
        i64::try_from(self.0).unwrap_or(i64::MAX)
    }

    /// Parses `512M`, `1G`, `1.5G`, `1024`, `64KiB` or `2gb` (case-insensitive).
    pub fn parse(text: &str) -> Result<Self, PolicyError> {
        let invalid = |reason| PolicyError::InvalidSize {
            value: text.to_string(),
            reason,
        };
        let trimmed = text.trim();
        if trimmed.is_empty() {
            return Err(invalid("empty"));
        }

        let split = trimmed
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(trimmed.len());
        let (number, unit) = trimmed.split_at(split);
        if number.is_empty() {
            return Err(invalid("no number"));
        }

        let unit = unit.trim().to_ascii_uppercase();
        let unit = unit
            .strip_suffix("IB")
            .or_else(|| unit.strip_suffix('B').filter(|rest| !rest.is_empty()))
            .unwrap_or(&unit);
        let multiplier = match unit.chars().collect::<Vec<_>>().as_slice() {
            [] => 1,
            [c] => UNITS
                .iter()
                .find(|(u, _)| u == c)
                .map(|(_, m)| *m)
                .ok_or_else(|| invalid("unknown unit"))?,
            _ => return Err(invalid("unknown unit")),
        };

        let bytes = if number.contains('.') {
            let value: f64 = number.parse().map_err(|_| invalid("not a number"))?;
            let bytes = value * multiplier as f64;
            if !bytes.is_finite() || bytes >= u64::MAX as f64 {
                return Err(invalid("too large"));
            }
            bytes.round() as u64
        } else {
            let value: u64 = number.parse().map_err(|_| invalid("not a number"))?;
            value.checked_mul(multiplier).ok_or_else(|| invalid("too large"))?
        };
        Ok(Self(bytes))
    }
}

impl ByteSize {
    /// Rounds to one decimal in the largest unit below the size, for messages: `1.5G`.
    pub fn approx(self) -> String {
        for (unit, multiplier) in UNITS.iter().rev() {
            if *multiplier > 1 && self.0 >= *multiplier {
                let value = self.0 as f64 / *multiplier as f64;
                return format!("{value:.1}{unit}");
            }
        }
        format!("{}B", self.0)
    }
}

impl fmt::Display for ByteSize {
    /// Prints the largest unit that divides the size exactly, so `parse(display(x)) == x`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (unit, multiplier) in UNITS.iter().rev() {
            if *multiplier > 1 && self.0 >= *multiplier && self.0.is_multiple_of(*multiplier) {
                return write!(f, "{}{}", self.0 / multiplier, unit);
            }
        }
        write!(f, "{}", self.0)
    }
}

impl FromStr for ByteSize {
    type Err = PolicyError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl Serialize for ByteSize {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Number(u64),
            Text(String),
        }
        match Raw::deserialize(deserializer)? {
            Raw::Number(bytes) => Ok(Self(bytes)),
            Raw::Text(text) => Self::parse(&text).map_err(serde::de::Error::custom),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_units_as_powers_of_1024() {
        assert_eq!(ByteSize::parse("512M").unwrap(), ByteSize::mib(512));
        assert_eq!(ByteSize::parse("1G").unwrap(), ByteSize::gib(1));
        assert_eq!(ByteSize::parse("1g").unwrap(), ByteSize::gib(1));
        assert_eq!(ByteSize::parse("2GB").unwrap(), ByteSize::gib(2));
        assert_eq!(ByteSize::parse("64KiB").unwrap(), ByteSize::bytes(64 * 1024));
        assert_eq!(ByteSize::parse("1.5G").unwrap(), ByteSize::mib(1536));
        assert_eq!(ByteSize::parse("1024").unwrap(), ByteSize::bytes(1024));
        assert_eq!(ByteSize::parse(" 8 M ").unwrap(), ByteSize::mib(8));
    }

    #[test]
    fn rejects_malformed_sizes() {
        for bad in ["", "G", "12X", "1.2.3G", "-1G", "1GG", "99999999999T", "M5"] {
            assert!(ByteSize::parse(bad).is_err(), "{bad:?} should be rejected");
        }
    }

    #[test]
    fn display_round_trips() {
        for size in [ByteSize::mib(512), ByteSize::gib(16), ByteSize::bytes(1000)] {
            assert_eq!(ByteSize::parse(&size.to_string()).unwrap(), size);
        }
        assert_eq!(ByteSize::gib(1).to_string(), "1G");
    }

    #[test]
    fn approx_rounds_for_messages() {
        assert_eq!(ByteSize::bytes(488_948 * 1024).approx(), "477.5M");
        assert_eq!(ByteSize::gib(2).approx(), "2.0G");
        assert_eq!(ByteSize::bytes(12).approx(), "12B");
    }

    #[test]
    fn deserializes_numbers_and_strings() {
        let from_text: ByteSize = serde_yaml::from_str("1G").unwrap();
        let from_number: ByteSize = serde_yaml::from_str("4096").unwrap();
        assert_eq!(from_text, ByteSize::gib(1));
        assert_eq!(from_number, ByteSize::bytes(4096));
        assert!(serde_yaml::from_str::<ByteSize>("lots").is_err());
    }
}
