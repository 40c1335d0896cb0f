//! The text tokenizer of a model: a HuggingFace `tokenizers::Tokenizer` with the two
//! behaviours multi-turn RL needs. Encoding adds no special tokens of its own (the chat
//! template already wrote them) but recognizes special-token strings inside the text;
//! decoding keeps special tokens, so a rendered chat turn round-trips exactly.

use std::str::FromStr;

use tokenizers::{AddedToken, Tokenizer};

use crate::error::{CoreError, ErrorCode, Result};

#[derive(Clone)]
pub struct TextTokenizer {
    inner: Tokenizer,
}

impl std::fmt::Debug for TextTokenizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TextTokenizer {{ vocab_size: {} }}", self.vocab_size())
    }
}

impl TextTokenizer {
    pub fn new(inner: Tokenizer) -> Self {
        TextTokenizer { inner }
    }

    /// Parses the contents of a `tokenizer.json`; `source` names the file in errors.
    pub fn from_json(json: &str, source: &str) -> Result<Self> {
        let inner = Tokenizer::from_str(json).map_err(|e| {
            CoreError::new(ErrorCode::InvalidModel, format!("{source} is not a valid HuggingFace tokenizer.json ({e})"))
        })?;
        Ok(TextTokenizer { inner })
    }

    /// This tokenizer with `tokens` added after its vocabulary, in order: each always encodes
    /// as one token (matched in the text before the model's own splitting) and decodes to
    /// itself. Empty, repeated or already-known strings are errors.
    pub fn with_added_tokens(mut self, tokens: &[String]) -> Result<Self> {
        for (i, token) in tokens.iter().enumerate() {
            let known = self.inner.token_to_id(token).is_some() || tokens[..i].contains(token);
            if token.is_empty() || known {
                let why = if token.is_empty() { "is empty" } else { "is already in the vocabulary" };
                return Err(CoreError::new(ErrorCode::InvalidArgument, format!("added token {i} ({token:?}) {why}; pass distinct, non-empty strings the tokenizer does not know")));
            }
        }
        self.inner
            .add_tokens(tokens.iter().map(|t| AddedToken::from(t.clone(), false)))
            .map_err(|e| CoreError::new(ErrorCode::InvalidArgument, format!("cannot add tokens to the tokenizer ({e})")))?;
        Ok(self)
    }

    /// The `tokenizer.json` text of this tokenizer.
    pub fn to_json(&self) -> Result<String> {
        self.inner
            .to_string(true)
            .map_err(|e| CoreError::new(ErrorCode::InvalidModel, format!("cannot serialize the tokenizer ({e})")))
    }

    pub fn encode(&self, text: &str) -> Result<Vec<u32>> {
        let encoding = self
            .inner
            .encode(text, false)
            .map_err(|e| CoreError::new(ErrorCode::InvalidArgument, format!("cannot tokenize the text ({e})")))?;
        Ok(encoding.get_ids().to_vec())
    }

    pub fn decode(&self, ids: &[u32]) -> Result<String> {
        let size = self.vocab_size() as u32;
        if let Some(bad) = ids.iter().find(|&&id| id >= size) {
            return Err(CoreError::new(
                ErrorCode::InvalidArgument,
                format!("token id {bad} is outside the vocabulary (size {size}); pass ids produced by this model's tokenizer"),
            ));
        }
        self.inner
            .decode(ids, false)
            .map_err(|e| CoreError::new(ErrorCode::InvalidArgument, format!("cannot decode the token ids ({e})")))
    }

    /// Number of ids, added tokens included.
    pub fn vocab_size(&self) -> usize {
        self.inner.get_vocab_size(true)
    }

    pub fn token_to_id(&self, token: &str) -> Option<u32> {
        self.inner.token_to_id(token)
    }

    pub fn id_to_token(&self, id: u32) -> Option<String> {
        self.inner.id_to_token(id)
    }

    pub fn inner(&self) -> &Tokenizer {
        &self.inner
    }
}
