//! Tokens → [`Query`]: the SQL subset, with a positioned error for everything else.

use serde_json::{Map, Number, Value};

use super::QueryError;
use super::ast::{Aggregate, BinaryOp, Expr, Function, Query, Select, UnaryOp};
use super::lexer::{Spanned, Token, tokenize};

/// Keywords that cannot be an alias or a bare name.
const RESERVED: [&str; 27] = [
    "SELECT",
    "FROM",
    "WHERE",
    "ORDER",
    "BY",
    "ASC",
    "DESC",
    "TOP",
    "VALUE",
    "AS",
    "AND",
    "OR",
    "NOT",
    "IN",
    "BETWEEN",
    "OFFSET",
    "LIMIT",
    "JOIN",
    "GROUP",
    "DISTINCT",
    "LIKE",
    "EXISTS",
    "TRUE",
    "FALSE",
    "NULL",
    "UNDEFINED",
    "HAVING",
];

/// Constructs of the full language this emulator refuses, by their leading keyword.
const UNSUPPORTED: [(&str, &str); 7] = [
    ("JOIN", "JOIN"),
    ("GROUP", "GROUP BY"),
    ("DISTINCT", "DISTINCT"),
    ("LIKE", "LIKE"),
    ("EXISTS", "EXISTS subqueries"),
    ("HAVING", "HAVING"),
    ("SELECT", "subqueries"),
];

/// Parses `text`, substituting `@name` parameters from `params`.
pub(crate) fn parse(text: &str, params: &Map<String, Value>) -> Result<Query, QueryError> {
    let tokens = tokenize(text)?;
    let mut parser = Parser {
        tokens,
        at: 0,
        end: text.len(),
        params,
        aggregates: Vec::new(),
        aggregates_allowed: false,
        alias: String::new(),
    };
    parser.query()
}

struct Parser<'a> {
    tokens: Vec<Spanned>,
    at: usize,
    end: usize,
    params: &'a Map<String, Value>,
    aggregates: Vec<(Aggregate, Expr)>,
    aggregates_allowed: bool,
    alias: String,
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.at).map(|t| &t.token)
    }

    fn pos(&self) -> usize {
        self.tokens.get(self.at).map_or(self.end, |t| t.pos)
    }

    fn is_keyword(&self, keyword: &str) -> bool {
        matches!(self.peek(), Some(Token::Ident(w)) if w.eq_ignore_ascii_case(keyword))
    }

    fn eat_keyword(&mut self, keyword: &str) -> bool {
        let found = self.is_keyword(keyword);
        if found {
            self.at += 1;
        }
        found
    }

    fn eat(&mut self, symbol: &str) -> bool {
        let found = matches!(self.peek(), Some(Token::Sym(s)) if *s == symbol);
        if found {
            self.at += 1;
        }
        found
    }

    fn expect_keyword(&mut self, keyword: &str) -> Result<(), QueryError> {
        if self.eat_keyword(keyword) {
            Ok(())
        } else {
            Err(self.unexpected(&format!("expected {keyword}")))
        }
    }

    fn expect(&mut self, symbol: &str) -> Result<(), QueryError> {
        if self.eat(symbol) {
            Ok(())
        } else {
            Err(self.unexpected(&format!("expected `{symbol}`")))
        }
    }

    /// An error at the current token: an unsupported construct by name, or `what`.
    fn unexpected(&self, what: &str) -> QueryError {
        let pos = self.pos();
        if let Some(Token::Ident(word)) = self.peek() {
            if let Some((_, name)) = UNSUPPORTED
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(word))
            {
                return QueryError::new(format!("{name} is not supported"), pos);
            }
        }
        match self.peek() {
            None => QueryError::new(format!("{what}, found the end of the query"), pos),
            Some(token) => QueryError::new(format!("{what}, found {}", describe(token)), pos),
        }
    }

    fn query(&mut self) -> Result<Query, QueryError> {
        self.expect_keyword("SELECT")?;
        let top = if self.eat_keyword("TOP") {
            Some(self.count("TOP")?)
        } else {
            None
        };
        let select_at = self.at;
        // The alias comes after the select clause: skip ahead to learn it first.
        self.alias = self.peek_alias()?;
        self.at = select_at;
        self.aggregates_allowed = true;
        let select_pos = self.pos();
        let select = self.select()?;
        self.aggregates_allowed = false;
        if !self.aggregates.is_empty() && mixes_item_and_aggregates(&select) {
            return Err(QueryError::new(
                "a value outside an aggregate next to aggregates needs GROUP BY, which is not supported",
                select_pos,
            ));
        }
        self.expect_keyword("FROM")?;
        let container = self.name("a container name")?;
        if self.is_keyword("IN") {
            return Err(QueryError::new(
                "FROM … IN (iteration) is not supported",
                self.pos(),
            ));
        }
        self.eat_keyword("AS");
        let alias = if matches!(self.peek(), Some(Token::Ident(w)) if !reserved(w)) {
            self.name("an alias")?
        } else {
            container.clone()
        };
        let filter = if self.eat_keyword("WHERE") {
            Some(self.expr()?)
        } else {
            None
        };
        let mut order_by = Vec::new();
        if self.is_keyword("ORDER") && !self.aggregates.is_empty() {
            return Err(QueryError::new(
                "ORDER BY with aggregates is not supported",
                self.pos(),
            ));
        }
        if self.eat_keyword("ORDER") {
            self.expect_keyword("BY")?;
            loop {
                let key = self.expr()?;
                let descending = if self.eat_keyword("DESC") {
                    true
                } else {
                    self.eat_keyword("ASC");
                    false
                };
                order_by.push((key, descending));
                if !self.eat(",") {
                    break;
                }
            }
        }
        let (mut offset, mut limit) = (None, None);
        if self.eat_keyword("OFFSET") {
            offset = Some(self.count("OFFSET")?);
            self.expect_keyword("LIMIT")?;
            limit = Some(self.count("LIMIT")?);
        }
        if self.peek().is_some() {
            return Err(self.unexpected("expected the end of the query"));
        }
        let query = Query {
            top,
            select,
            container,
            alias,
            filter,
            order_by,
            offset,
            limit,
            aggregates: std::mem::take(&mut self.aggregates),
        };
        Ok(query)
    }

    /// The alias after `FROM name [AS] [alias]`, found by scanning for the first top-level
    /// `FROM` (select clauses cannot contain subqueries here).
    fn peek_alias(&mut self) -> Result<String, QueryError> {
        let mut depth = 0_i32;
        while let Some(token) = self.peek() {
            match token {
                Token::Sym("(" | "[" | "{") => depth += 1,
                Token::Sym(")" | "]" | "}") => depth -= 1,
                Token::Ident(w) if depth == 0 && w.eq_ignore_ascii_case("FROM") => {
                    self.at += 1;
                    let container = self.name("a container name")?;
                    self.eat_keyword("AS");
                    return Ok(match self.peek() {
                        Some(Token::Ident(w)) if !reserved(w) => w.clone(),
                        _ => container,
                    });
                }
                _ => {}
            }
            self.at += 1;
        }
        Err(QueryError::new(
            "expected FROM, found the end of the query",
            self.end,
        ))
    }

    fn name(&mut self, what: &str) -> Result<String, QueryError> {
        match self.peek() {
            Some(Token::Ident(w)) if !reserved(w) => {
                let w = w.clone();
                self.at += 1;
                Ok(w)
            }
            _ => Err(self.unexpected(&format!("expected {what}"))),
        }
    }

    /// A non-negative integer literal or parameter (`TOP`, `OFFSET`, `LIMIT`).
    fn count(&mut self, clause: &str) -> Result<u64, QueryError> {
        let pos = self.pos();
        let value = match self.peek().cloned() {
            Some(Token::Number(n)) => Value::from(n),
            Some(Token::Param(name)) => self.param(&name, pos)?,
            _ => return Err(self.unexpected(&format!("expected a number after {clause}"))),
        };
        self.at += 1;
        value
            .as_f64()
            .filter(|n| n.fract() == 0.0 && *n >= 0.0 && *n <= 1e15)
            .map(|n| n as u64)
            .ok_or_else(|| QueryError::new(format!("{clause} needs a non-negative integer"), pos))
    }

    fn param(&self, name: &str, pos: usize) -> Result<Value, QueryError> {
        self.params
            .get(&format!("@{name}"))
            .or_else(|| self.params.get(name))
            .cloned()
            .ok_or_else(|| QueryError::new(format!("parameter @{name} is not defined"), pos))
    }

    fn select(&mut self) -> Result<Select, QueryError> {
        if self.eat("*") {
            return Ok(Select::Star);
        }
        if self.eat_keyword("VALUE") {
            return Ok(Select::Value(self.expr()?));
        }
        let mut fields = Vec::new();
        loop {
            let expr = self.expr()?;
            let name = if self.eat_keyword("AS")
                || matches!(self.peek(), Some(Token::Ident(w)) if !reserved(w))
            {
                self.name("a field name")?
            } else {
                match &expr {
                    Expr::Member(_, name) => name.clone(),
                    Expr::Index(_, index) => match index.as_ref() {
                        Expr::Literal(Value::String(name)) => name.clone(),
                        _ => format!("${}", fields.len() + 1),
                    },
                    _ => format!("${}", fields.len() + 1),
                }
            };
            fields.push((name, expr));
            if !self.eat(",") {
                return Ok(Select::Fields(fields));
            }
        }
    }

    pub(crate) fn expr(&mut self) -> Result<Expr, QueryError> {
        let mut left = self.and()?;
        while self.eat_keyword("OR") {
            left = Expr::Binary(BinaryOp::Or, Box::new(left), Box::new(self.and()?));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Expr, QueryError> {
        let mut left = self.not()?;
        while self.eat_keyword("AND") {
            left = Expr::Binary(BinaryOp::And, Box::new(left), Box::new(self.not()?));
        }
        Ok(left)
    }

    fn not(&mut self) -> Result<Expr, QueryError> {
        if self.eat_keyword("NOT") {
            return Ok(Expr::Unary(UnaryOp::Not, Box::new(self.not()?)));
        }
        self.comparison()
    }

    fn comparison(&mut self) -> Result<Expr, QueryError> {
        let left = self.concat()?;
        let negated = self.is_keyword("NOT")
            && matches!(self.tokens.get(self.at + 1).map(|t| &t.token),
                Some(Token::Ident(w)) if w.eq_ignore_ascii_case("IN") || w.eq_ignore_ascii_case("BETWEEN") || w.eq_ignore_ascii_case("LIKE"));
        if negated {
            self.at += 1;
        }
        if self.eat_keyword("IN") {
            self.expect("(")?;
            let mut items = vec![self.expr()?];
            while self.eat(",") {
                items.push(self.expr()?);
            }
            self.expect(")")?;
            return Ok(Expr::In(Box::new(left), items, negated));
        }
        if self.eat_keyword("BETWEEN") {
            let low = self.concat()?;
            self.expect_keyword("AND")?;
            let high = self.concat()?;
            return Ok(Expr::Between(
                Box::new(left),
                Box::new(low),
                Box::new(high),
                negated,
            ));
        }
        if negated || self.is_keyword("LIKE") {
            return Err(self.unexpected("expected IN or BETWEEN"));
        }
        let op = match self.peek() {
            Some(Token::Sym("=")) => BinaryOp::Eq,
            Some(Token::Sym("!=" | "<>")) => BinaryOp::Ne,
            Some(Token::Sym("<")) => BinaryOp::Lt,
            Some(Token::Sym("<=")) => BinaryOp::Le,
            Some(Token::Sym(">")) => BinaryOp::Gt,
            Some(Token::Sym(">=")) => BinaryOp::Ge,
            _ => return Ok(left),
        };
        self.at += 1;
        let right = self.concat()?;
        Ok(Expr::Binary(op, Box::new(left), Box::new(right)))
    }

    fn concat(&mut self) -> Result<Expr, QueryError> {
        let mut left = self.additive()?;
        while self.eat("||") {
            left = Expr::Binary(BinaryOp::Concat, Box::new(left), Box::new(self.additive()?));
        }
        Ok(left)
    }

    fn additive(&mut self) -> Result<Expr, QueryError> {
        let mut left = self.multiplicative()?;
        loop {
            let op = if self.eat("+") {
                BinaryOp::Add
            } else if self.eat("-") {
                BinaryOp::Sub
            } else {
                return Ok(left);
            };
            left = Expr::Binary(op, Box::new(left), Box::new(self.multiplicative()?));
        }
    }

    fn multiplicative(&mut self) -> Result<Expr, QueryError> {
        let mut left = self.unary()?;
        loop {
            let op = if self.eat("*") {
                BinaryOp::Mul
            } else if self.eat("/") {
                BinaryOp::Div
            } else if self.eat("%") {
                BinaryOp::Mod
            } else {
                return Ok(left);
            };
            left = Expr::Binary(op, Box::new(left), Box::new(self.unary()?));
        }
    }

    fn unary(&mut self) -> Result<Expr, QueryError> {
        if self.eat("-") {
            return Ok(Expr::Unary(UnaryOp::Neg, Box::new(self.unary()?)));
        }
        if self.eat("+") {
            return Ok(Expr::Unary(UnaryOp::Plus, Box::new(self.unary()?)));
        }
        let mut expr = self.primary()?;
        loop {
            if self.eat(".") {
                let name = match self.peek() {
                    Some(Token::Ident(w)) => w.clone(),
                    _ => return Err(self.unexpected("expected a property name after `.`")),
                };
                self.at += 1;
                expr = Expr::Member(Box::new(expr), name);
            } else if self.eat("[") {
                let index = self.expr()?;
                self.expect("]")?;
                expr = Expr::Index(Box::new(expr), Box::new(index));
            } else {
                return Ok(expr);
            }
        }
    }

    fn primary(&mut self) -> Result<Expr, QueryError> {
        let pos = self.pos();
        let Some(token) = self.peek().cloned() else {
            return Err(self.unexpected("expected an expression"));
        };
        self.at += 1;
        match token {
            Token::Number(n) => Ok(Expr::Literal(number(n))),
            Token::Str(s) => Ok(Expr::Literal(Value::String(s))),
            Token::Param(name) => Ok(Expr::Literal(self.param(&name, pos)?)),
            Token::Sym("(") => {
                let inner = self.expr()?;
                self.expect(")")?;
                Ok(inner)
            }
            Token::Sym("[") => {
                let mut items = Vec::new();
                if !self.eat("]") {
                    loop {
                        items.push(self.expr()?);
                        if !self.eat(",") {
                            break;
                        }
                    }
                    self.expect("]")?;
                }
                Ok(Expr::Array(items))
            }
            Token::Sym("{") => self.object(),
            Token::Ident(word) => self.word(word, pos),
            _ => {
                self.at -= 1;
                Err(self.unexpected("expected an expression"))
            }
        }
    }

    fn object(&mut self) -> Result<Expr, QueryError> {
        let mut fields = Vec::new();
        if self.eat("}") {
            return Ok(Expr::Object(fields));
        }
        loop {
            let name = match self.peek().cloned() {
                Some(Token::Str(s) | Token::Ident(s)) => s,
                _ => return Err(self.unexpected("expected a property name")),
            };
            self.at += 1;
            self.expect(":")?;
            fields.push((name, self.expr()?));
            if !self.eat(",") {
                break;
            }
        }
        self.expect("}")?;
        Ok(Expr::Object(fields))
    }

    /// An identifier in expression position: literal keyword, the alias, or a call.
    fn word(&mut self, word: String, pos: usize) -> Result<Expr, QueryError> {
        match word.to_ascii_uppercase().as_str() {
            "TRUE" => return Ok(Expr::Literal(Value::Bool(true))),
            "FALSE" => return Ok(Expr::Literal(Value::Bool(false))),
            "NULL" => return Ok(Expr::Literal(Value::Null)),
            "UNDEFINED" => return Ok(Expr::Undefined),
            _ => {}
        }
        if let Some((_, name)) = UNSUPPORTED
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(&word))
        {
            return Err(QueryError::new(format!("{name} is not supported"), pos));
        }
        if matches!(self.peek(), Some(Token::Sym("("))) {
            return self.call(&word, pos);
        }
        if word.eq_ignore_ascii_case("udf") && matches!(self.peek(), Some(Token::Sym("."))) {
            return Err(QueryError::new(
                "user-defined functions are not supported",
                pos,
            ));
        }
        if word == self.alias {
            return Ok(Expr::Root);
        }
        self.at -= 1;
        if reserved(&word) {
            return Err(self.unexpected("expected an expression"));
        }
        Err(QueryError::new(
            format!("identifier `{word}` is not the FROM alias `{}`", self.alias),
            pos,
        ))
    }

    fn call(&mut self, name: &str, pos: usize) -> Result<Expr, QueryError> {
        self.expect("(")?;
        if let Some(aggregate) = Aggregate::from_name(name) {
            if !self.aggregates_allowed {
                return Err(QueryError::new(
                    format!(
                        "aggregate {} is only supported in the select clause",
                        aggregate.sql()
                    ),
                    pos,
                ));
            }
            self.aggregates_allowed = false;
            let arg = self.expr()?;
            self.aggregates_allowed = true;
            self.expect(")")?;
            self.aggregates.push((aggregate, arg));
            return Ok(Expr::Aggregate(aggregate, self.aggregates.len() - 1));
        }
        let Some((function, min, max)) = Function::from_name(name) else {
            return Err(QueryError::new(
                format!("function {name} is not supported"),
                pos,
            ));
        };
        let mut args = Vec::new();
        if !self.eat(")") {
            loop {
                args.push(self.expr()?);
                if !self.eat(",") {
                    break;
                }
            }
            self.expect(")")?;
        }
        if args.len() < min || args.len() > max {
            let expected = match (min, max) {
                (min, usize::MAX) => format!("{min} or more arguments"),
                (min, max) if min == max => format!("{min} argument(s)"),
                (min, max) => format!("{min} to {max} arguments"),
            };
            return Err(QueryError::new(
                format!(
                    "function {} takes {expected}, not {}",
                    name.to_ascii_uppercase(),
                    args.len()
                ),
                pos,
            ));
        }
        Ok(Expr::Call(function, args))
    }
}

/// Whether a select clause with aggregates also reads the item outside them.
fn mixes_item_and_aggregates(select: &Select) -> bool {
    match select {
        Select::Star => true,
        Select::Value(expr) => reads_item(expr),
        Select::Fields(fields) => fields.iter().any(|(_, e)| reads_item(e)),
    }
}

fn reads_item(expr: &Expr) -> bool {
    match expr {
        Expr::Root => true,
        Expr::Literal(_) | Expr::Undefined | Expr::Aggregate(..) => false,
        Expr::Member(e, _) | Expr::Unary(_, e) => reads_item(e),
        Expr::Index(a, b) | Expr::Binary(_, a, b) => reads_item(a) || reads_item(b),
        Expr::In(e, items, _) => reads_item(e) || items.iter().any(reads_item),
        Expr::Between(a, b, c, _) => reads_item(a) || reads_item(b) || reads_item(c),
        Expr::Call(_, items) | Expr::Array(items) => items.iter().any(reads_item),
        Expr::Object(fields) => fields.iter().any(|(_, e)| reads_item(e)),
    }
}

fn reserved(word: &str) -> bool {
    RESERVED.iter().any(|k| k.eq_ignore_ascii_case(word))
}

fn describe(token: &Token) -> String {
    match token {
        Token::Ident(w) => format!("`{w}`"),
        Token::Param(p) => format!("`@{p}`"),
        Token::Number(n) => format!("`{n}`"),
        Token::Str(s) => format!("{}", Value::from(s.as_str())),
        Token::Sym(s) => format!("`{s}`"),
    }
}

/// A JSON number: integral values as integers, like the service prints them.
pub(crate) fn number(n: f64) -> Value {
    if n.fract() == 0.0 && n.abs() < 9_007_199_254_740_992.0 {
        Value::Number(Number::from(n as i64))
    } else {
        Number::from_f64(n).map_or(Value::Null, Value::Number)
    }
}
