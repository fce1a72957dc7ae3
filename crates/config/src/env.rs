//! `${NAME}` references inside the file and `CCHUB_*` overrides.

use serde_yaml::Value;

use crate::ConfigError;

/// Replaces `${NAME}` in every string value of the document with the variable's value,
/// so that secrets such as a database password can stay out of the file.
pub fn expand_references(value: &mut Value, key: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<(), ConfigError> {
    match value {
        Value::String(text) => {
            *text = expand_string(text, key, env)?;
        }
        Value::Sequence(items) => {
            for (index, item) in items.iter_mut().enumerate() {
                expand_references(item, &format!("{key}[{index}]"), env)?;
            }
        }
        Value::Mapping(map) => {
            for (name, item) in map.iter_mut() {
                let name = name.as_str().unwrap_or("?");
                let child = if key.is_empty() { name.to_string() } else { format!("{key}.{name}") };
                expand_references(item, &child, env)?;
            }
        }
        _ => {}
    }
    Ok(())
}

fn expand_string(text: &str, key: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<String, ConfigError> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else {
            return Err(ConfigError::invalid(key, format!("unterminated ${{ in {text:?}")));
        };
        let name = &after[..end];
        let valid = !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid {
            return Err(ConfigError::invalid(key, format!("${{{name}}} is not a variable name")));
        }
        let value = env(name).ok_or_else(|| ConfigError::MissingEnv {
            name: name.to_string(),
            key: key.to_string(),
        })?;
        out.push_str(&value);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        (name == "DB_PASSWORD").then(|| "s3cret".to_string())
    }

    #[test]
    fn references_are_expanded() {
        let mut doc: Value = serde_yaml::from_str("database:\n  password: ${DB_PASSWORD}\n  user: x${DB_PASSWORD}y\n").unwrap();
        expand_references(&mut doc, "", &env).unwrap();
        assert_eq!(doc["database"]["password"], "s3cret");
        assert_eq!(doc["database"]["user"], "xs3crety");
    }

    #[test]
    fn missing_variable_names_key() {
        let mut doc: Value = serde_yaml::from_str("database:\n  password: ${NOPE}\n").unwrap();
        let err = expand_references(&mut doc, "", &env).unwrap_err();
        let message = err.to_string();
        assert!(message.contains("NOPE") && message.contains("database.password"), "{message}");
    }
}
