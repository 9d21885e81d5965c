//! The `filter` option: lexer, recursive-descent parser with parse-time type checking, and
//! evaluator.
//!
//! Grammar (keywords, function names and `true`/`false`/`null` are case-insensitive; field
//! names are case-sensitive; whitespace may appear between any two tokens):
//!
//! ```text
//! filter     = or_expr ;
//! or_expr    = and_expr { "or" and_expr } ;
//! and_expr   = unary { "and" unary } ;
//! unary      = "not" unary | primary ;
//! primary    = "(" or_expr ")" | function | comparison ;
//! function   = ( "contains" | "startswith" | "endswith" ) "(" field "," string ")" ;
//! comparison = field op literal ;
//! op         = "eq" | "ne" | "gt" | "ge" | "lt" | "le" ;
//! literal    = string | number | "true" | "false" | "null" ;
//! string     = "'" { any char except "'" | "''" } "'" ;
//! number     = [ "-" ] digit { digit } [ "." digit { digit } ] ;
//! field      = ( letter | "_" ) { letter | digit | "_" } ;   (ASCII letters and digits)
//! ```
//!
//! Positions in error messages are 0-based character (not byte) offsets into the filter.

use super::snippet;
use super::value::{cmp_scalar, parse_datetime, Row};

use super::value::Scalar;
use super::{FieldType, ListSchema};

/// Longest accepted filter, in characters.
pub const MAX_FILTER_LEN: usize = 4096;
/// Deepest accepted nesting of parentheses and `not`, combined.
pub const MAX_FILTER_DEPTH: usize = 64;

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CmpOp {
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
}

impl CmpOp {
    fn from_keyword(word: &str) -> Option<CmpOp> {
        Some(match word.to_ascii_lowercase().as_str() {
            "eq" => CmpOp::Eq,
            "ne" => CmpOp::Ne,
            "gt" => CmpOp::Gt,
            "ge" => CmpOp::Ge,
            "lt" => CmpOp::Lt,
            "le" => CmpOp::Le,
            _ => return None,
        })
    }
}

/// A string function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Func {
    Contains,
    StartsWith,
    EndsWith,
}

impl Func {
    fn from_name(word: &str) -> Option<Func> {
        Some(match word.to_ascii_lowercase().as_str() {
            "contains" => Func::Contains,
            "startswith" => Func::StartsWith,
            "endswith" => Func::EndsWith,
            _ => return None,
        })
    }

    fn name(self) -> &'static str {
        match self {
            Func::Contains => "contains",
            Func::StartsWith => "startswith",
            Func::EndsWith => "endswith",
        }
    }
}

/// A type-checked literal. Date-times are instants in nanoseconds since the Unix epoch.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Literal {
    Null,
    Str(String),
    Num(f64),
    Bool(bool),
    DateTime(i128),
}

impl Literal {
    pub(crate) fn as_scalar(&self) -> Option<Scalar<'_>> {
        match self {
            Literal::Null => None,
            Literal::Str(s) => Some(Scalar::Str(s)),
            Literal::Num(n) => Some(Scalar::Num(*n)),
            Literal::Bool(b) => Some(Scalar::Bool(*b)),
            Literal::DateTime(t) => Some(Scalar::DateTime(*t)),
        }
    }
}

/// A parsed filter expression. `and`/`or` chains are n-ary, so the tree depth is bounded by
/// the nesting of parentheses and `not` (at most [`MAX_FILTER_DEPTH`]).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Expr {
    Or(Vec<Expr>),
    And(Vec<Expr>),
    Not(Box<Expr>),
    Cmp {
        field: &'static str,
        ty: FieldType,
        op: CmpOp,
        lit: Literal,
    },
    Func {
        func: Func,
        field: &'static str,
        /// The needle, already lower-cased (functions match case-insensitively).
        needle: String,
    },
}

impl Expr {
    /// Evaluates the expression against one item.
    pub(crate) fn eval<R: Row + ?Sized>(&self, item: &R) -> bool {
        match self {
            Expr::Or(terms) => terms.iter().any(|t| t.eval(item)),
            Expr::And(terms) => terms.iter().all(|t| t.eval(item)),
            Expr::Not(inner) => !inner.eval(item),
            Expr::Cmp { field, ty, op, lit } => {
                compare(item.value(field, Some(*ty)), *op, lit.as_scalar())
            }
            Expr::Func {
                func,
                field,
                needle,
            } => match item.value(field, Some(FieldType::String)) {
                Some(Scalar::Str(hay)) => {
                    let hay = hay.to_lowercase();
                    match func {
                        Func::Contains => hay.contains(needle.as_str()),
                        Func::StartsWith => hay.starts_with(needle.as_str()),
                        Func::EndsWith => hay.ends_with(needle.as_str()),
                    }
                }
                _ => false,
            },
        }
    }
}

/// Null semantics: `eq` is true when both sides are null, `ne` is its negation, and ordering
/// operators are false whenever either side is null.
fn compare(item: Option<Scalar<'_>>, op: CmpOp, lit: Option<Scalar<'_>>) -> bool {
    let equal = match (&item, &lit) {
        (None, None) => true,
        (Some(a), Some(b)) => cmp_scalar(a, b).is_eq(),
        _ => false,
    };
    match op {
        CmpOp::Eq => equal,
        CmpOp::Ne => !equal,
        CmpOp::Gt | CmpOp::Ge | CmpOp::Lt | CmpOp::Le => match (&item, &lit) {
            (Some(a), Some(b)) => {
                let ord = cmp_scalar(a, b);
                match op {
                    CmpOp::Gt => ord.is_gt(),
                    CmpOp::Ge => ord.is_ge(),
                    CmpOp::Lt => ord.is_lt(),
                    _ => ord.is_le(),
                }
            }
            _ => false,
        },
    }
}

// ---------------------------------------------------------------------------------------------
// Lexer
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    LParen,
    RParen,
    Comma,
    Ident(String),
    Str(String),
    /// The value and its source text (for messages).
    Num(f64, String),
    End,
}

impl Tok {
    /// Describes the token for "found ..." parts of error messages.
    fn describe(&self) -> String {
        match self {
            Tok::LParen => "'('".to_string(),
            Tok::RParen => "')'".to_string(),
            Tok::Comma => "','".to_string(),
            Tok::Ident(w) => format!("'{}'", snippet(w)),
            Tok::Str(s) => format!("string literal '{}'", snippet(s)),
            Tok::Num(_, text) => format!("number {}", snippet(text)),
            Tok::End => "end of input".to_string(),
        }
    }
}

fn is_ident_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_'
}

fn is_ident_continue(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Splits the filter into tokens, each with its character position. Always ends with `End`.
fn lex(chars: &[char]) -> Result<Vec<(usize, Tok)>, String> {
    let mut toks = Vec::new();
    let mut i = 0;
    while let Some(&c) = chars.get(i) {
        let start = i;
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        let tok = match c {
            '(' => {
                i += 1;
                Tok::LParen
            }
            ')' => {
                i += 1;
                Tok::RParen
            }
            ',' => {
                i += 1;
                Tok::Comma
            }
            '\'' => {
                i += 1;
                let mut s = String::new();
                loop {
                    match chars.get(i) {
                        None => {
                            return Err(format!(
                                "unterminated string literal starting at position {start}"
                            ));
                        }
                        Some('\'') if chars.get(i + 1) == Some(&'\'') => {
                            s.push('\'');
                            i += 2;
                        }
                        Some('\'') => {
                            i += 1;
                            break;
                        }
                        Some(&other) => {
                            s.push(other);
                            i += 1;
                        }
                    }
                }
                Tok::Str(s)
            }
            '-' | '0'..='9' => {
                let mut text = String::new();
                if c == '-' {
                    text.push('-');
                    i += 1;
                }
                let digits_start = i;
                while let Some(&d) = chars.get(i).filter(|d| d.is_ascii_digit()) {
                    text.push(d);
                    i += 1;
                }
                if i == digits_start {
                    return Err(format!(
                        "expected a digit after '-' at position {}",
                        digits_start
                    ));
                }
                if chars.get(i) == Some(&'.') {
                    text.push('.');
                    i += 1;
                    let frac_start = i;
                    while let Some(&d) = chars.get(i).filter(|d| d.is_ascii_digit()) {
                        text.push(d);
                        i += 1;
                    }
                    if i == frac_start {
                        return Err(format!("expected a digit after '.' at position {i}"));
                    }
                }
                if chars
                    .get(i)
                    .is_some_and(|&d| is_ident_continue(d) || d == '.')
                {
                    return Err(format!(
                        "invalid number '{}' at position {start}",
                        snippet(&text)
                    ));
                }
                match text.parse::<f64>() {
                    Ok(n) if n.is_finite() => Tok::Num(n, text),
                    _ => {
                        return Err(format!(
                            "number '{}' at position {start} is out of range",
                            snippet(&text)
                        ));
                    }
                }
            }
            c if is_ident_start(c) => {
                let mut word = String::new();
                while let Some(&d) = chars.get(i).filter(|d| is_ident_continue(**d)) {
                    word.push(d);
                    i += 1;
                }
                Tok::Ident(word)
            }
            other => {
                return Err(format!(
                    "unexpected character '{}' at position {start}",
                    other.escape_debug()
                ));
            }
        };
        toks.push((start, tok));
    }
    toks.push((chars.len(), Tok::End));
    Ok(toks)
}

// ---------------------------------------------------------------------------------------------
// Parser
// ---------------------------------------------------------------------------------------------

const RESERVED: &[&str] = &[
    "and", "or", "not", "eq", "ne", "gt", "ge", "lt", "le", "true", "false", "null",
];

fn is_keyword(word: &str, kw: &str) -> bool {
    word.eq_ignore_ascii_case(kw)
}

struct Parser<'s> {
    toks: Vec<(usize, Tok)>,
    pos: usize,
    schema: &'s ListSchema,
}

impl Parser<'_> {
    fn peek(&self) -> (usize, &Tok) {
        match self.toks.get(self.pos) {
            Some((p, t)) => (*p, t),
            // `lex` always appends `End`, and the parser never advances past it.
            None => (usize::MAX, &Tok::End),
        }
    }

    fn peek_at(&self, offset: usize) -> &Tok {
        self.toks
            .get(self.pos + offset)
            .map(|(_, t)| t)
            .unwrap_or(&Tok::End)
    }

    fn advance(&mut self) {
        if self.pos + 1 < self.toks.len() {
            self.pos += 1;
        }
    }

    fn peek_keyword(&self, kw: &str) -> bool {
        matches!(self.peek().1, Tok::Ident(w) if is_keyword(w, kw))
    }

    fn expect(&mut self, tok: Tok, what: &str) -> Result<(), String> {
        let (p, found) = self.peek();
        if *found == tok {
            self.advance();
            Ok(())
        } else {
            Err(format!(
                "expected {what} at position {p}, found {}",
                found.describe()
            ))
        }
    }

    fn check_depth(&self, depth: usize, at: usize) -> Result<(), String> {
        if depth > MAX_FILTER_DEPTH {
            Err(format!(
                "nesting too deep at position {at} (at most {MAX_FILTER_DEPTH} levels of parentheses and 'not')"
            ))
        } else {
            Ok(())
        }
    }

    fn parse_or(&mut self, depth: usize) -> Result<Expr, String> {
        let mut terms = vec![self.parse_and(depth)?];
        while self.peek_keyword("or") {
            self.advance();
            terms.push(self.parse_and(depth)?);
        }
        Ok(if terms.len() == 1 {
            terms.swap_remove(0)
        } else {
            Expr::Or(terms)
        })
    }

    fn parse_and(&mut self, depth: usize) -> Result<Expr, String> {
        let mut terms = vec![self.parse_unary(depth)?];
        while self.peek_keyword("and") {
            self.advance();
            terms.push(self.parse_unary(depth)?);
        }
        Ok(if terms.len() == 1 {
            terms.swap_remove(0)
        } else {
            Expr::And(terms)
        })
    }

    fn parse_unary(&mut self, depth: usize) -> Result<Expr, String> {
        if self.peek_keyword("not") {
            let (p, _) = self.peek();
            self.check_depth(depth + 1, p)?;
            self.advance();
            let inner = self.parse_unary(depth + 1)?;
            return Ok(Expr::Not(Box::new(inner)));
        }
        self.parse_primary(depth)
    }

    fn parse_primary(&mut self, depth: usize) -> Result<Expr, String> {
        let (p, tok) = self.peek();
        match tok {
            Tok::LParen => {
                self.check_depth(depth + 1, p)?;
                self.advance();
                let inner = self.parse_or(depth + 1)?;
                self.expect(Tok::RParen, "')'")?;
                Ok(inner)
            }
            Tok::Ident(word) if *self.peek_at(1) == Tok::LParen => {
                let word = word.clone();
                match Func::from_name(&word) {
                    Some(func) => self.parse_function(func),
                    None => Err(format!(
                        "unknown function '{}' at position {p} (expected contains, startswith or endswith)",
                        snippet(&word)
                    )),
                }
            }
            Tok::Ident(_) => self.parse_comparison(),
            other => Err(format!(
                "expected a field name, function or '(' at position {p}, found {}",
                other.describe()
            )),
        }
    }

    /// Reads a field name and resolves it against the schema.
    fn parse_field(&mut self) -> Result<(&'static str, FieldType), String> {
        let (p, tok) = self.peek();
        let word = match tok {
            Tok::Ident(w) => w,
            other => {
                return Err(format!(
                    "expected a field name at position {p}, found {}",
                    other.describe()
                ));
            }
        };
        if let Some(&(name, ty)) = self.schema.fields.iter().find(|(n, _)| *n == word) {
            self.advance();
            return Ok((name, ty));
        }
        if RESERVED.iter().any(|kw| is_keyword(word, kw)) {
            Err(format!(
                "expected a field name at position {p}, found keyword '{}'",
                snippet(word)
            ))
        } else {
            Err(format!("unknown field '{}' at position {p}", snippet(word)))
        }
    }

    fn parse_function(&mut self, func: Func) -> Result<Expr, String> {
        self.advance(); // the function name
        self.expect(Tok::LParen, "'('")?;
        let (field_pos, _) = self.peek();
        let (field, ty) = self.parse_field()?;
        if ty != FieldType::String {
            return Err(format!(
                "function '{}' needs a string field, but '{field}' at position {field_pos} is {}",
                func.name(),
                type_name(ty)
            ));
        }
        self.expect(Tok::Comma, "','")?;
        let (p, tok) = self.peek();
        let needle = match tok {
            Tok::Str(s) => s.to_lowercase(),
            other => {
                return Err(format!(
                    "expected a string literal as the second argument of '{}' at position {p}, found {}",
                    func.name(),
                    other.describe()
                ));
            }
        };
        self.advance();
        self.expect(Tok::RParen, "')'")?;
        Ok(Expr::Func {
            func,
            field,
            needle,
        })
    }

    fn parse_comparison(&mut self) -> Result<Expr, String> {
        let (field, ty) = self.parse_field()?;
        let (p, tok) = self.peek();
        let op = match tok {
            Tok::Ident(w) => CmpOp::from_keyword(w),
            _ => None,
        };
        let Some(op) = op else {
            return Err(format!(
                "expected a comparison operator (eq, ne, gt, ge, lt, le) after '{field}' at position {p}, found {}",
                tok.describe()
            ));
        };
        self.advance();
        let lit = self.parse_literal(field, ty)?;
        Ok(Expr::Cmp { field, ty, op, lit })
    }

    /// Reads a literal and checks it against the field's type.
    fn parse_literal(&mut self, field: &str, ty: FieldType) -> Result<Literal, String> {
        let (p, tok) = self.peek();
        let lit = match (ty, tok) {
            (_, Tok::Ident(w)) if is_keyword(w, "null") => Literal::Null,
            (FieldType::Bool, Tok::Ident(w)) if is_keyword(w, "true") => Literal::Bool(true),
            (FieldType::Bool, Tok::Ident(w)) if is_keyword(w, "false") => Literal::Bool(false),
            (FieldType::Number, Tok::Num(n, _)) => Literal::Num(*n),
            (FieldType::String, Tok::Str(s)) => Literal::Str(s.clone()),
            (FieldType::DateTime, Tok::Str(s)) => match parse_datetime(s) {
                Some(t) => Literal::DateTime(t),
                None => {
                    return Err(format!(
                        "invalid date-time '{}' at position {p}: expected RFC 3339, e.g. '2024-01-31T12:00:00Z'",
                        snippet(s)
                    ));
                }
            },
            (_, Tok::LParen | Tok::RParen | Tok::Comma | Tok::End) => {
                return Err(format!(
                    "expected a literal after the operator at position {p}, found {}",
                    tok.describe()
                ));
            }
            (_, Tok::Ident(w)) if !is_keyword(w, "true") && !is_keyword(w, "false") => {
                return Err(if RESERVED.iter().any(|kw| is_keyword(w, kw)) {
                    format!(
                        "expected a literal at position {p}, found keyword '{}'",
                        snippet(w)
                    )
                } else {
                    format!(
                        "expected a literal at position {p}, found '{}' (comparing two fields is not supported; quote strings with ')",
                        snippet(w)
                    )
                });
            }
            (_, other) => {
                return Err(format!(
                    "type mismatch at position {p}: field '{field}' is {} and takes {}, found {}",
                    type_name(ty),
                    accepted_literals(ty),
                    other.describe()
                ));
            }
        };
        self.advance();
        Ok(lit)
    }
}

fn type_name(ty: FieldType) -> &'static str {
    match ty {
        FieldType::String => "a string",
        FieldType::Number => "a number",
        FieldType::Bool => "a boolean",
        FieldType::DateTime => "a date-time",
    }
}

fn accepted_literals(ty: FieldType) -> &'static str {
    match ty {
        FieldType::String => "a quoted string or null",
        FieldType::Number => "a number or null",
        FieldType::Bool => "true, false or null",
        FieldType::DateTime => "a quoted RFC 3339 date-time or null",
    }
}

/// Parses and type-checks a filter. The error is the message only (the caller adds the param).
pub(crate) fn parse_filter(input: &str, schema: &ListSchema) -> Result<Expr, String> {
    let chars: Vec<char> = input.chars().take(MAX_FILTER_LEN + 1).collect();
    if chars.len() > MAX_FILTER_LEN {
        return Err(format!(
            "filter is too long (more than {MAX_FILTER_LEN} characters)"
        ));
    }
    let toks = lex(&chars)?;
    let mut parser = Parser {
        toks,
        pos: 0,
        schema,
    };
    let expr = parser.parse_or(0)?;
    let (p, tok) = parser.peek();
    if *tok != Tok::End {
        return Err(format!(
            "unexpected {} at position {p} (expected 'and', 'or' or end of filter)",
            tok.describe()
        ));
    }
    Ok(expr)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    use crate::query::test_support::SCHEMA;

    use crate::query::test_support::item;

    fn parse(s: &str) -> Result<Expr, String> {
        parse_filter(s, &SCHEMA)
    }

    fn eval(filter: &str, value: Value) -> bool {
        match parse(filter) {
            Ok(expr) => expr.eval(&item(value)),
            Err(e) => panic!("filter {filter:?} should parse: {e}"),
        }
    }

    fn err(filter: &str) -> String {
        match parse(filter) {
            Ok(expr) => panic!("filter {filter:?} should fail, parsed as {expr:?}"),
            Err(e) => e,
        }
    }

    // --- comparisons -------------------------------------------------------------------------

    #[test]
    fn given_each_operator_when_comparing_numbers_then_results_follow_math() {
        let it = json!({"age": 30});
        let cases = [
            ("age eq 30", true),
            ("age eq 31", false),
            ("age ne 30", false),
            ("age ne 31", true),
            ("age gt 29", true),
            ("age gt 30", false),
            ("age ge 30", true),
            ("age ge 30.5", false),
            ("age lt 30.5", true),
            ("age lt 30", false),
            ("age le 30", true),
            ("age le 29.99", false),
            ("age gt -1", true),
            ("age eq 30.0", true),
        ];
        for (f, want) in cases {
            assert_eq!(eval(f, it.clone()), want, "{f}");
        }
    }

    #[test]
    fn given_each_operator_when_comparing_strings_then_code_point_order_and_case_sensitive() {
        let it = json!({"name": "Bob"});
        let cases = [
            ("name eq 'Bob'", true),
            ("name eq 'bob'", false),
            ("name ne 'bob'", true),
            ("name gt 'Ann'", true),
            ("name gt 'a'", false), // 'B' (U+0042) < 'a' (U+0061)
            ("name ge 'Bob'", true),
            ("name lt 'Bobby'", true),
            ("name le 'Bob'", true),
            ("name lt 'Bo'", false),
        ];
        for (f, want) in cases {
            assert_eq!(eval(f, it.clone()), want, "{f}");
        }
    }

    #[test]
    fn given_bool_field_when_comparing_then_false_is_less_than_true() {
        assert!(eval("enabled eq true", json!({"enabled": true})));
        assert!(!eval("enabled eq false", json!({"enabled": true})));
        assert!(eval("enabled ne false", json!({"enabled": true})));
        assert!(eval("enabled lt true", json!({"enabled": false})));
        assert!(eval("enabled eq TRUE", json!({"enabled": true})));
    }

    #[test]
    fn given_keywords_in_any_case_when_parsing_then_accepted() {
        assert!(eval(
            "NOT (age EQ 1) AnD name Eq 'x' OR enabled eq False",
            json!({"age": 2, "name": "x"})
        ));
        assert!(eval("CONTAINS(name,'X')", json!({"name": "x"})));
    }

    #[test]
    fn given_flexible_whitespace_when_parsing_then_accepted() {
        assert!(eval("age eq 1", json!({"age": 1})));
        assert!(eval("  age\teq\n1  ", json!({"age": 1})));
        assert!(eval(
            "(age eq 1)and(name eq 'a')",
            json!({"age": 1, "name": "a"})
        ));
        assert!(eval(" contains ( name , 'a' ) ", json!({"name": "abc"})));
    }

    // --- boolean logic -----------------------------------------------------------------------

    #[test]
    fn given_or_and_without_parens_when_evaluating_then_and_binds_tighter() {
        // a or b and c  ==  a or (b and c)
        let f = "age eq 1 or age eq 2 and name eq 'x'";
        assert!(eval(f, json!({"age": 1, "name": "y"})));
        assert!(!eval(f, json!({"age": 2, "name": "y"})));
        assert!(eval(f, json!({"age": 2, "name": "x"})));
        // a and b or c == (a and b) or c
        let f = "age eq 1 and name eq 'x' or enabled eq true";
        assert!(eval(f, json!({"age": 9, "enabled": true})));
        assert_eq!(
            parse("age eq 1 or age eq 2 and name eq 'x'"),
            parse("age eq 1 or (age eq 2 and name eq 'x')")
        );
    }

    #[test]
    fn given_parentheses_when_evaluating_then_they_override_precedence() {
        let f = "(age eq 1 or age eq 2) and name eq 'x'";
        assert!(!eval(f, json!({"age": 1, "name": "y"})));
        assert!(eval(f, json!({"age": 2, "name": "x"})));
        assert!(eval("((((age eq 1))))", json!({"age": 1})));
    }

    #[test]
    fn given_not_when_evaluating_then_it_binds_tighter_than_and_or() {
        // not a and b == (not a) and b
        let f = "not age eq 1 and name eq 'x'";
        assert!(eval(f, json!({"age": 2, "name": "x"})));
        assert!(!eval(f, json!({"age": 1, "name": "x"})));
        assert!(!eval(f, json!({"age": 2, "name": "y"})));
        assert!(eval("not not age eq 1", json!({"age": 1})));
        assert!(eval("not (age eq 1 or age eq 2)", json!({"age": 3})));
        assert!(eval("not contains(name,'z')", json!({"name": "abc"})));
    }

    #[test]
    fn given_long_and_or_chains_when_parsing_then_they_flatten() {
        let f = vec!["age eq 1"; 100].join(" or ");
        match parse(&f) {
            Ok(Expr::Or(terms)) => assert_eq!(terms.len(), 100),
            other => panic!("unexpected {other:?}"),
        }
        let f = vec!["age eq 1"; 100].join(" and ");
        assert!(eval(&f, json!({"age": 1})));
    }

    // --- functions ---------------------------------------------------------------------------

    #[test]
    fn given_string_functions_when_evaluating_then_case_insensitive_substring_tests() {
        let it = json!({"name": "Alice Smith"});
        let cases = [
            ("contains(name,'ice s')", true),
            ("contains(name,'bob')", false),
            ("contains(name,'')", true),
            ("startswith(name,'ALI')", true),
            ("startswith(name,'Smith')", false),
            ("endswith(name,'smith')", true),
            ("endswith(name,'Alice')", false),
        ];
        for (f, want) in cases {
            assert_eq!(eval(f, it.clone()), want, "{f}");
        }
        assert!(eval("contains(name,'ÉCOLE')", json!({"name": "une école"})));
    }

    #[test]
    fn given_null_or_missing_value_when_applying_functions_then_false() {
        assert!(!eval("contains(name,'')", json!({"name": null})));
        assert!(!eval("startswith(name,'')", json!({})));
        assert!(!eval("endswith(name,'')", json!({"name": 5})));
        assert!(eval("not contains(name,'a')", json!({})));
    }

    // --- literals ----------------------------------------------------------------------------

    #[test]
    fn given_doubled_quotes_when_lexing_strings_then_they_are_escaped_quotes() {
        assert!(eval("name eq 'O''Brien'", json!({"name": "O'Brien"})));
        assert!(eval("name eq ''''", json!({"name": "'"})));
        assert!(eval("name eq ''", json!({"name": ""})));
        assert!(eval("name eq ''''''", json!({"name": "''"})));
        assert!(eval("contains(name,'''s')", json!({"name": "Bob's"})));
        assert!(eval("name eq 'a b (c), d'", json!({"name": "a b (c), d"})));
        assert!(eval("name eq 'héllo 😀'", json!({"name": "héllo 😀"})));
    }

    #[test]
    fn given_numbers_when_lexing_then_integers_decimals_and_negatives_work() {
        assert!(eval("age eq -3", json!({"age": -3})));
        assert!(eval("age eq -0.5", json!({"age": -0.5})));
        assert!(eval("age eq 0", json!({"age": -0.0})));
        assert!(eval("age eq 007", json!({"age": 7})));
        assert!(eval(
            "age gt 123456789012345678901234567890",
            json!({"age": 1e30})
        ));
    }

    // --- null semantics ----------------------------------------------------------------------

    #[test]
    fn given_missing_or_null_fields_when_compared_to_null_then_eq_true_ne_false() {
        for it in [json!({}), json!({"name": null})] {
            assert!(eval("name eq null", it.clone()));
            assert!(!eval("name ne null", it.clone()));
            assert!(!eval("name eq 'x'", it.clone()));
            assert!(eval("name ne 'x'", it.clone()));
            for op in ["gt", "ge", "lt", "le"] {
                assert!(!eval(&format!("name {op} 'x'"), it.clone()), "{op}");
                assert!(!eval(&format!("name {op} null"), it.clone()), "{op} null");
            }
        }
    }

    #[test]
    fn given_present_field_when_compared_to_null_then_eq_false_ne_true_ordering_false() {
        let it = json!({"age": 5});
        assert!(!eval("age eq null", it.clone()));
        assert!(eval("age ne null", it.clone()));
        for op in ["gt", "ge", "lt", "le"] {
            assert!(!eval(&format!("age {op} null"), it.clone()), "{op}");
        }
        assert!(eval("enabled eq null", json!({"enabled": null})));
        assert!(eval("created_at eq null", json!({})));
    }

    #[test]
    fn given_item_value_of_wrong_type_when_comparing_then_it_behaves_like_null() {
        assert!(eval("age eq null", json!({"age": "5"})));
        assert!(!eval("age eq 5", json!({"age": "5"})));
        assert!(eval("name eq null", json!({"name": ["x"]})));
        assert!(eval(
            "created_at eq null",
            json!({"created_at": "not a date"})
        ));
        assert!(!eval(
            "created_at lt '2100-01-01T00:00:00Z'",
            json!({"created_at": "not a date"})
        ));
    }

    // --- date-times --------------------------------------------------------------------------

    #[test]
    fn given_datetimes_with_different_offsets_when_comparing_then_instants_are_compared() {
        let it = json!({"created_at": "2021-12-31T23:00:00Z"});
        assert!(eval(
            "created_at eq '2022-01-01T00:00:00+01:00'",
            it.clone()
        ));
        assert!(!eval(
            "created_at ne '2022-01-01T00:00:00+01:00'",
            it.clone()
        ));
        assert!(eval("created_at lt '2022-01-01T00:00:00Z'", it.clone()));
        assert!(eval(
            "created_at gt '2022-01-01T00:00:00+02:00'",
            it.clone()
        ));
        assert!(eval(
            "created_at ge '2021-12-31T18:00:00-05:00'",
            it.clone()
        ));
        assert!(eval("created_at le '2021-12-31T23:00:00.000Z'", it.clone()));
        let it = json!({"created_at": "2022-01-01T00:00:00.5+01:00"});
        assert!(eval("created_at gt '2021-12-31T23:00:00Z'", it));
    }

    #[test]
    fn given_invalid_datetime_literal_when_parsing_then_error() {
        let e = err("created_at gt '2022-01-01'");
        assert!(
            e.contains("invalid date-time '2022-01-01' at position 14"),
            "{e}"
        );
        assert!(e.contains("RFC 3339"), "{e}");
        err("created_at eq 'yesterday'");
        err("created_at eq 20220101");
        err("created_at eq true");
    }

    // --- type errors -------------------------------------------------------------------------

    #[test]
    fn given_literals_of_the_wrong_type_when_parsing_then_type_errors() {
        let cases = [
            (
                "age eq '5'",
                "field 'age' is a number and takes a number or null",
            ),
            ("age eq true", "field 'age' is a number"),
            (
                "enabled eq 1",
                "field 'enabled' is a boolean and takes true, false or null",
            ),
            ("enabled eq 'true'", "field 'enabled' is a boolean"),
            (
                "name eq 5",
                "field 'name' is a string and takes a quoted string or null",
            ),
            ("name eq false", "field 'name' is a string"),
            ("created_at eq 5", "field 'created_at' is a date-time"),
        ];
        for (f, want) in cases {
            let e = err(f);
            assert!(e.contains(want), "{f}: {e}");
            assert!(e.contains("type mismatch at position"), "{f}: {e}");
        }
    }

    #[test]
    fn given_functions_on_non_string_fields_when_parsing_then_error() {
        let e = err("contains(age,'1')");
        assert_eq!(
            e,
            "function 'contains' needs a string field, but 'age' at position 9 is a number"
        );
        err("startswith(enabled,'t')");
        err("endswith(created_at,'Z')");
    }

    #[test]
    fn given_bad_function_arguments_when_parsing_then_specific_errors() {
        assert_eq!(
            err("contains(name, 5)"),
            "expected a string literal as the second argument of 'contains' at position 15, found number 5"
        );
        assert_eq!(
            err("contains(name 'x')"),
            "expected ',' at position 14, found string literal 'x'"
        );
        assert_eq!(
            err("contains(name,'x'"),
            "expected ')' at position 17, found end of input"
        );
        assert_eq!(
            err("contains('x', name)"),
            "expected a field name at position 9, found string literal 'x'"
        );
        assert_eq!(
            err("contains(name,null)"),
            "expected a string literal as the second argument of 'contains' at position 14, found 'null'"
        );
        assert_eq!(
            err("substringof('x',name)"),
            "unknown function 'substringof' at position 0 (expected contains, startswith or endswith)"
        );
    }

    // --- syntax errors -----------------------------------------------------------------------

    #[test]
    fn given_unknown_fields_when_parsing_then_error_names_field_and_position() {
        assert_eq!(err("foo eq 1"), "unknown field 'foo' at position 0");
        assert_eq!(
            err("age eq 1 and Name eq 'x'"),
            "unknown field 'Name' at position 13"
        );
        assert_eq!(
            err("contains(nope,'x')"),
            "unknown field 'nope' at position 9"
        );
        assert_eq!(
            err("and eq 1"),
            "expected a field name at position 0, found keyword 'and'"
        );
    }

    #[test]
    fn given_unbalanced_parentheses_when_parsing_then_error() {
        assert_eq!(
            err("(age eq 1 and (name eq 'x')"),
            "expected ')' at position 27, found end of input"
        );
        assert_eq!(
            err("age eq 1)"),
            "unexpected ')' at position 8 (expected 'and', 'or' or end of filter)"
        );
        err("(");
        err(")");
        err("()");
        err("((age eq 1)");
    }

    #[test]
    fn given_trailing_garbage_when_parsing_then_error() {
        assert_eq!(
            err("age eq 1 age eq 2"),
            "unexpected 'age' at position 9 (expected 'and', 'or' or end of filter)"
        );
        err("age eq 1 and");
        err("age eq 1 or");
        err("age eq 1 'x'");
        err("age eq 1,");
        err("not");
    }

    #[test]
    fn given_malformed_comparisons_when_parsing_then_specific_errors() {
        assert_eq!(
            err("age"),
            "expected a comparison operator (eq, ne, gt, ge, lt, le) after 'age' at position 3, found end of input"
        );
        assert_eq!(err("age == 1"), "unexpected character '=' at position 4");
        assert_eq!(
            err("age eq"),
            "expected a literal after the operator at position 6, found end of input"
        );
        assert_eq!(
            err("name eq Bob"),
            "expected a literal at position 8, found 'Bob' (comparing two fields is not supported; quote strings with ')"
        );
        assert_eq!(
            err("5 eq age"),
            "expected a field name, function or '(' at position 0, found number 5"
        );
        assert_eq!(
            err(""),
            "expected a field name, function or '(' at position 0, found end of input"
        );
        assert_eq!(
            err("name eq 'abc"),
            "unterminated string literal starting at position 8"
        );
        assert_eq!(err("age eq -"), "expected a digit after '-' at position 8");
        assert_eq!(err("age eq 1."), "expected a digit after '.' at position 9");
        assert_eq!(err("age eq 1.2.3"), "invalid number '1.2' at position 7");
        assert_eq!(err("age eq 1e5"), "invalid number '1' at position 7");
        assert_eq!(err("age eq .5"), "unexpected character '.' at position 7");
    }

    #[test]
    fn given_positions_when_input_has_multibyte_chars_then_positions_count_characters() {
        assert_eq!(
            err("name eq 'é' and nöpe eq 1"),
            "unexpected character 'ö' at position 17"
        );
    }

    #[test]
    fn given_huge_number_when_parsing_then_out_of_range_error() {
        let f = format!("age eq {}", "9".repeat(400));
        let e = err(&f);
        assert!(e.starts_with("number '9999"), "{e}");
        assert!(e.ends_with("at position 7 is out of range"), "{e}");
    }

    #[test]
    fn given_hostile_nesting_when_parsing_then_depth_error_not_stack_overflow() {
        let f = format!("{}age eq 1{}", "(".repeat(64), ")".repeat(64));
        assert!(parse(&f).is_ok());
        let f = format!("{}age eq 1{}", "(".repeat(65), ")".repeat(65));
        assert_eq!(
            err(&f),
            "nesting too deep at position 64 (at most 64 levels of parentheses and 'not')"
        );
        let f = format!("{}age eq 1", "not ".repeat(1000));
        assert!(err(&f).starts_with("nesting too deep at position 256"));
        let f = "(".repeat(4000);
        assert!(err(&f).starts_with("nesting too deep"));
        let f = "(not ".repeat(800);
        assert!(err(&f).starts_with("nesting too deep"));
    }

    #[test]
    fn given_overlong_input_when_parsing_then_length_error() {
        let ok = format!("name eq '{}'", "x".repeat(MAX_FILTER_LEN - 10));
        assert_eq!(ok.chars().count(), MAX_FILTER_LEN);
        assert!(parse(&ok).is_ok());
        let long = format!("name eq '{}'", "x".repeat(MAX_FILTER_LEN - 9));
        assert_eq!(err(&long), "filter is too long (more than 4096 characters)");
        // Characters, not bytes, are counted.
        let multibyte = format!("name eq '{}'", "é".repeat(MAX_FILTER_LEN - 10));
        assert!(parse(&multibyte).is_ok());
    }

    // --- randomized robustness ---------------------------------------------------------------

    use crate::testing::Rng;

    #[test]
    fn given_random_token_soup_when_parsing_and_evaluating_then_never_panics() {
        const TOKENS: &[&str] = &[
            "(",
            ")",
            ",",
            "not",
            "and",
            "or",
            "eq",
            "ne",
            "gt",
            "ge",
            "lt",
            "le",
            "EQ",
            "Or",
            "name",
            "age",
            "enabled",
            "created_at",
            "foo",
            "contains",
            "startswith",
            "endswith",
            "'x'",
            "''",
            "''''",
            "'",
            "'2022-01-01T00:00:00Z'",
            "'2022-01-01T00:00:00+01:00'",
            "1",
            "-2.5",
            "-",
            ".",
            "1.",
            "0",
            "99999999999999999999999",
            "true",
            "false",
            "null",
            "NULL",
            "é",
            "😀",
            "\t",
            "=",
            "$",
            "\\",
            "'O''Brien'",
        ];
        let items = [
            item(json!({})),
            item(
                json!({"name": "x", "age": 1, "enabled": true, "created_at": "2022-01-01T00:00:00Z"}),
            ),
            item(json!({"name": null, "age": "1", "enabled": 0, "created_at": "bad"})),
        ];
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        let mut parsed = 0;
        for _ in 0..20_000 {
            let len = rng.below(12);
            let mut s = String::new();
            for _ in 0..len {
                s.push_str(TOKENS[rng.below(TOKENS.len())]);
                if rng.below(3) != 0 {
                    s.push(' ');
                }
            }
            if let Ok(expr) = parse(&s) {
                parsed += 1;
                for it in &items {
                    let _ = expr.eval(it);
                }
            }
        }
        // Sanity: the generator does produce some valid filters.
        assert!(parsed > 0);
    }

    #[test]
    fn given_random_bytes_when_parsing_then_never_panics() {
        let mut rng = Rng(42);
        for _ in 0..5_000 {
            let len = rng.below(40);
            let s: String = (0..len)
                .map(|_| char::from_u32(rng.below(0x300) as u32).unwrap_or('?'))
                .collect();
            let _ = parse(&s);
        }
    }
}
