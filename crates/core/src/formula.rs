//! `scalingModifiers.formula`: compile, validate and evaluate KEDA's expr-lang formulas over trigger values.
//!
//! KEDA (pkg/scaling/modifiers/formula.go) compiles the formula with github.com/expr-lang/expr and an
//! environment of `trigger name → float64`. We use the Rust `expr-lang` crate, which interprets the same
//! language. Where the two differ we close the gap here, and say so:
//! - Go expr type-checks at compile time, so an unknown name in an untaken branch is rejected. The Rust
//!   crate only notices unknown names when it evaluates them, so [`Formula::compile`] scans the formula's
//!   identifiers itself ([`free_identifiers`]) and rejects names that are not triggers.
//! - Float division by zero yields ±Inf/NaN in both engines (KEDA then writes a garbage quantity). We
//!   reject a non-finite result instead; integer `%` by zero is an error in the crate already.
//! - `%` only accepts integer operands, as in Go expr (`int(a) % 3` works, `a % 3` on a float is an error).

use expr::{Context, ContextProvider, Program, Value};
use thiserror::Error;

/// The name KEDA binds the `??` formula's result to when it rewrites the formula.
const COMPOSITE_RESULT: &str = "_kedaCompositeResult";

/// Words of the expr language that are not variables.
const KEYWORDS: &[&str] = &[
    "true",
    "false",
    "nil",
    "and",
    "or",
    "not",
    "in",
    "matches",
    "contains",
    "startsWith",
    "endsWith",
    "let",
    "if",
    "else",
];

/// Why a formula could not be compiled or evaluated.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum FormulaError {
    /// The formula is empty.
    #[error("formula is empty")]
    Empty,
    /// The formula does not parse.
    #[error("syntax error at line {line}, column {column}: {message}")]
    Syntax {
        /// 1-based line of the error.
        line: usize,
        /// 1-based column of the error.
        column: usize,
        /// What the parser expected.
        message: String,
    },
    /// The formula names a variable that is not a trigger.
    #[error("unknown variable {name:?} in formula; known trigger names: [{}]", known.join(", "))]
    UnknownVariable {
        /// The unknown name.
        name: String,
        /// The trigger names the formula may use.
        known: Vec<String>,
    },
    /// An integer division or modulo by zero.
    #[error("division by zero in formula")]
    DivisionByZero,
    /// The result is ±Inf or NaN (a float division by zero or an overflow).
    #[error("formula result {value} is not finite (division by zero or overflow)")]
    NotFinite {
        /// The non-finite value.
        value: f64,
    },
    /// The result is not a number (e.g. a boolean or a string).
    #[error("formula returned a non-numeric result: {found}")]
    NonNumeric {
        /// The value the formula produced, as expr prints it.
        found: String,
    },
    /// Any other runtime error reported by the expression engine.
    #[error("error evaluating formula: {message}")]
    Evaluation {
        /// The engine's message.
        message: String,
    },
}

impl FormulaError {
    /// A short machine-friendly reason for events and metrics.
    pub fn reason(&self) -> &'static str {
        match self {
            FormulaError::Empty => "FormulaEmpty",
            FormulaError::Syntax { .. } => "FormulaSyntaxError",
            FormulaError::UnknownVariable { .. } => "FormulaUnknownVariable",
            FormulaError::DivisionByZero => "FormulaDivisionByZero",
            FormulaError::NotFinite { .. } => "FormulaNotFinite",
            FormulaError::NonNumeric { .. } => "FormulaNonNumeric",
            FormulaError::Evaluation { .. } => "FormulaEvaluationError",
        }
    }
}

/// A compiled `scalingModifiers.formula`.
#[derive(Debug, Clone)]
pub struct Formula {
    source: String,
    program: Program,
}

impl Formula {
    /// Compiles `formula` for the given trigger names (the named, non-cpu/memory triggers).
    pub fn compile(formula: &str, trigger_names: &[&str]) -> Result<Formula, FormulaError> {
        let trimmed = formula.trim();
        if trimmed.is_empty() {
            return Err(FormulaError::Empty);
        }
        // Parse the user's text first so positions in syntax errors are theirs, not the rewrite's.
        expr::compile(trimmed).map_err(syntax_error)?;
        for name in free_identifiers(trimmed) {
            if !trigger_names.contains(&name.as_str()) {
                return Err(FormulaError::UnknownVariable {
                    name,
                    known: trigger_names.iter().map(|n| (*n).to_owned()).collect(),
                });
            }
        }
        // The crate cannot parse `let` inside `float(..)`; such formulas run unwrapped and
        // `numeric_result` does the float conversion instead.
        let program = match expr::compile(&rewrite(trimmed)) {
            Ok(program) => program,
            Err(_) => expr::compile(trimmed).map_err(syntax_error)?,
        };
        Ok(Formula {
            source: formula.to_owned(),
            program,
        })
    }

    /// The formula as written.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Evaluates the formula; `None` in `inputs` binds that trigger as `nil` (fallback behavior
    /// `scalingModifiers`). `Ok(None)` means the formula itself evaluated to `nil`.
    pub fn evaluate(&self, inputs: &[(&str, Option<f64>)]) -> Result<Option<f64>, FormulaError> {
        let scope = Inputs {
            values: inputs
                .iter()
                .map(|(name, v)| (*name, v.map_or(Value::Nil, Value::Float)))
                .collect(),
        };
        let value = expr::run(&self.program, &scope).map_err(evaluation_error)?;
        numeric_result(value)
    }
}

/// Checks a formula the way KEDA's webhook does: it must compile against the trigger names and
/// run once with every trigger bound to -1.0.
///
/// Choice: a dummy run whose result is not finite (e.g. `a / (b + 1)` with b = -1) is accepted;
/// only the dummy values divide by zero, not the formula. KEDA accepts these too (Go's float
/// division yields +Inf without an error). Integer division by zero in the dummy run is likewise
/// accepted. Every other runtime error (type errors, non-numeric result) rejects the formula.
pub fn validate_formula(formula: &str, trigger_names: &[&str]) -> Result<(), FormulaError> {
    let compiled = Formula::compile(formula, trigger_names)?;
    let inputs: Vec<(&str, Option<f64>)> = trigger_names.iter().map(|n| (*n, Some(-1.0))).collect();
    match compiled.evaluate(&inputs) {
        Ok(_) | Err(FormulaError::NotFinite { .. }) | Err(FormulaError::DivisionByZero) => Ok(()),
        Err(e) => Err(e),
    }
}

/// KEDA's rewrite: formulas using `??` may yield nil, so the result is bound first and converted only
/// when not nil; every other formula is wrapped in `float(..)` unless it already starts with `float(`.
fn rewrite(formula: &str) -> String {
    if formula.contains("??") {
        if formula.starts_with(&format!("let {COMPOSITE_RESULT}")) {
            formula.to_owned()
        } else {
            format!(
                "let {COMPOSITE_RESULT} = ({formula}); {COMPOSITE_RESULT} == nil ? nil : float({COMPOSITE_RESULT})"
            )
        }
    } else if formula.starts_with("float(") {
        formula.to_owned()
    } else {
        format!("float({formula})")
    }
}

fn numeric_result(value: Value) -> Result<Option<f64>, FormulaError> {
    let number = match value {
        Value::Nil => return Ok(None),
        Value::Float(f) => f,
        // Accepted although Go's KEDA wants float64: the rewrite wraps results in float() anyway.
        Value::Integer(i) => i as f64,
        other => {
            return Err(FormulaError::NonNumeric {
                found: other.to_string(),
            });
        }
    };
    if number.is_finite() {
        Ok(Some(number))
    } else {
        Err(FormulaError::NotFinite { value: number })
    }
}

fn evaluation_error(error: expr::Error) -> FormulaError {
    let message = error.to_string();
    if message.contains("divide by zero") {
        FormulaError::DivisionByZero
    } else if let Some(rest) = message.strip_prefix("invalid operation: float(") {
        // `float(true)`: the rewrite's conversion refused a non-numeric result.
        FormulaError::NonNumeric {
            found: rest.trim_end_matches(')').to_owned(),
        }
    } else {
        FormulaError::Evaluation { message }
    }
}

/// Turns the engine's pest error (" --> 1:4 ... = expected ...") into a positioned error.
fn syntax_error(error: expr::Error) -> FormulaError {
    let text = error.to_string();
    let position = text.split("--> ").nth(1).and_then(|rest| {
        let location = rest.split_whitespace().next()?;
        let (line, column) = location.split_once(':')?;
        Some((line.parse().ok()?, column.parse().ok()?))
    });
    let message = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("= ").map(friendly_expectation))
        .unwrap_or_else(|| text.trim().to_owned());
    let (line, column) = position.unwrap_or((1, 1));
    FormulaError::Syntax {
        line,
        column,
        message,
    }
}

/// The parser lists grammar rule names ("expected conditional_if, negation_op, value, or ident");
/// a user wants to know what may stand there.
fn friendly_expectation(message: &str) -> String {
    let Some(list) = message.strip_prefix("expected ") else {
        return message.to_owned();
    };
    let rules: Vec<&str> = list
        .split([',', ' '])
        .filter(|w| !w.is_empty() && *w != "or")
        .collect();
    if rules.iter().any(|r| matches!(*r, "value" | "ident")) {
        return "expected a value here: a number, a trigger name, a function call such as max(a, b), \
                or a parenthesised expression"
            .to_owned();
    }
    let words: Vec<String> = rules.iter().map(|r| r.replace('_', " ")).collect();
    format!("expected {}", words.join(" or "))
}

/// The identifiers a formula reads as variables: skips string literals, function names (followed
/// by `(`), member names (after `.`), `#` predicate names, keywords and names bound with `let`.
fn free_identifiers(formula: &str) -> Vec<String> {
    let chars: Vec<char> = formula.chars().collect();
    let mut found = Vec::new();
    let mut bound: Vec<String> = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '"' || c == '\'' || c == '`' {
            i += 1;
            while i < chars.len() && chars[i] != c {
                if chars[i] == '\\' && c != '`' {
                    i += 1;
                }
                i += 1;
            }
            i += 1;
            continue;
        }
        if c.is_ascii_digit() {
            // Numbers, including 1e3, 0x1F and 1_000.
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            continue;
        }
        if c.is_alphabetic() || c == '_' || c == '$' {
            let start = i;
            while i < chars.len()
                && (chars[i].is_alphanumeric() || chars[i] == '_' || chars[i] == '$')
            {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            let before = chars[..start].iter().rev().find(|c| !c.is_whitespace());
            let after = chars[i..].iter().find(|c| !c.is_whitespace());
            let member = matches!(before, Some('.') | Some('#'));
            let call = after == Some(&'(');
            let previous_word = previous_word(&chars[..start]);
            if previous_word.as_deref() == Some("let") {
                bound.push(word);
                continue;
            }
            if member || call || KEYWORDS.contains(&word.as_str()) || word.starts_with('$') {
                continue;
            }
            if !bound.contains(&word) && !found.contains(&word) {
                found.push(word);
            }
            continue;
        }
        i += 1;
    }
    found
}

fn previous_word(before: &[char]) -> Option<String> {
    let end = before.iter().rposition(|c| !c.is_whitespace())? + 1;
    let start = before[..end]
        .iter()
        .rposition(|c| !(c.is_alphanumeric() || *c == '_'))
        .map_or(0, |p| p + 1);
    Some(before[start..end].iter().collect())
}

/// The formula's variables for one evaluation, without building a map.
struct Inputs<'a> {
    values: Vec<(&'a str, Value)>,
}

impl ContextProvider for Inputs<'_> {
    fn get(&self, key: &str) -> Option<&Value> {
        self.values
            .iter()
            .find(|(name, _)| *name == key)
            .map(|(_, v)| v)
    }

    fn to_context(&self) -> Context {
        let mut context = Context::default();
        for (name, value) in &self.values {
            context.insert(*name, value.clone());
        }
        context
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NAMES: &[&str] = &["trig_one", "trig_two", "zero"];

    fn eval(formula: &str) -> Result<Option<f64>, FormulaError> {
        Formula::compile(formula, NAMES)?.evaluate(&[
            ("trig_one", Some(5.0)),
            ("trig_two", Some(2.5)),
            ("zero", Some(0.0)),
        ])
    }

    #[test]
    fn formulas_evaluate_like_keda() {
        let cases: &[(&str, f64)] = &[
            ("(trig_one + trig_two) / 2", 3.75),
            ("trig_one - trig_two", 2.5),
            ("trig_one * trig_two", 12.5),
            ("trig_one ** 2", 25.0),
            ("trig_one ^ 2", 25.0),
            ("int(trig_one) % 3", 2.0),
            (
                "trig_one > 2 ? min(trig_one, trig_two) + abs(-1) : float(trig_two)",
                3.5,
            ),
            ("max(trig_one, 10) * 1.5", 15.0),
            ("trig_one >= 5 && trig_two < 3 ? 1 : 0", 1.0),
            ("trig_one > 9 || !(trig_two < 3) ? 1 : 0", 0.0),
            ("trig_one > 9 or not (trig_two < 3) ? 1 : 0", 0.0),
            ("trig_one == 5 and trig_two != 1 ? 7 : 0", 7.0),
            ("ceil(trig_two) + floor(trig_two) + round(trig_two)", 8.0),
            ("int(trig_two)", 2.0),
            ("float(trig_one)", 5.0),
            ("trig_one ?? 7", 5.0),
            ("zero > 0 ? trig_one / zero : 0", 0.0),
            ("let x = trig_one * 2; x + 1", 11.0),
        ];
        for (formula, want) in cases {
            assert_eq!(eval(formula), Ok(Some(*want)), "{formula}");
        }
    }

    #[test]
    fn nil_bound_trigger_falls_through_coalescing() {
        let f = Formula::compile("trig_one ?? trig_two", NAMES).unwrap();
        let got = f.evaluate(&[
            ("trig_one", None),
            ("trig_two", Some(4.0)),
            ("zero", Some(0.0)),
        ]);
        assert_eq!(got, Ok(Some(4.0)));
        let f = Formula::compile("trig_one ?? nil", NAMES).unwrap();
        assert_eq!(f.evaluate(&[("trig_one", None)]), Ok(None));
    }

    #[test]
    fn syntax_error_names_the_position() {
        match Formula::compile("trig_one +\n (", NAMES) {
            Err(FormulaError::Syntax { line, column, .. }) => assert_eq!((line, column), (2, 3)),
            other => panic!("{other:?}"),
        }
        match Formula::compile("trig_one $ 2", NAMES) {
            Err(FormulaError::Syntax { line, column, .. }) => assert_eq!((line, column), (1, 10)),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_syntax_error_says_what_may_stand_there_not_the_grammar_rules() {
        let err = Formula::compile("trig_one + * 2", NAMES).unwrap_err();
        assert_eq!(
            err.to_string(),
            "syntax error at line 1, column 12: expected a value here: a number, a trigger name, \
             a function call such as max(a, b), or a parenthesised expression"
        );
    }

    #[test]
    fn unknown_variable_is_named_with_the_known_triggers() {
        let err = Formula::compile("trig_one > 1 ? missing : 1", NAMES).unwrap_err();
        assert_eq!(
            err,
            FormulaError::UnknownVariable {
                name: "missing".into(),
                known: NAMES.iter().map(|s| s.to_string()).collect()
            }
        );
        let text = err.to_string();
        assert!(
            text.contains("\"missing\"") && text.contains("trig_one, trig_two, zero"),
            "{text}"
        );
    }

    #[test]
    fn function_names_members_strings_and_let_bindings_are_not_variables() {
        assert_eq!(
            free_identifiers("let x = max(a, 1); x + b.c + 'd e' + #f + 1e3"),
            vec!["a".to_string(), "b".to_string()]
        );
    }

    #[test]
    fn division_by_zero_is_an_error() {
        assert!(matches!(
            eval("trig_one / zero"),
            Err(FormulaError::NotFinite { .. })
        ));
        assert!(matches!(
            eval("zero / zero"),
            Err(FormulaError::NotFinite { .. })
        ));
        assert_eq!(
            eval("int(trig_one) % int(zero)"),
            Err(FormulaError::DivisionByZero)
        );
    }

    #[test]
    fn non_numeric_result_is_an_error() {
        assert!(matches!(
            eval("trig_one > 1"),
            Err(FormulaError::NonNumeric { .. })
        ));
        assert!(matches!(
            eval("'text'"),
            Err(FormulaError::NonNumeric { .. })
        ));
    }

    #[test]
    fn empty_formula_is_an_error() {
        assert_eq!(
            Formula::compile("  ", NAMES).unwrap_err(),
            FormulaError::Empty
        );
    }

    #[test]
    fn validation_runs_once_with_minus_one_and_tolerates_dummy_division_by_zero() {
        assert_eq!(validate_formula("trig_one / (trig_two + 1)", NAMES), Ok(()));
        assert_eq!(validate_formula("(trig_one + trig_two) / 2", NAMES), Ok(()));
        assert!(validate_formula("trig_one > 1", NAMES).is_err());
        assert!(validate_formula("nope + 1", NAMES).is_err());
        assert!(validate_formula("trig_one +", NAMES).is_err());
    }
}
