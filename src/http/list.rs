//! List endpoints: PortSIP's query options (`filter`, `search`, `orderby`,
//! `skip`, `top`, `count`; OData's `$`-prefixed spellings accepted too) over
//! rendered items, answered as `{count, items}`.

use super::error::ApiError;
use super::render_cache::PageItem;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::Json;
use serde_json::{json, Map, Value};
use switchboard_projections::query::{ListQuery, ListSchema, RawListParams};

/// The list query parameters of a request.
#[derive(Debug, Clone, Default)]
pub struct ListParams(pub RawListParams);

impl<S: Send + Sync> FromRequestParts<S> for ListParams {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or("");
        let mut raw = RawListParams::default();
        for (k, v) in form_pairs(query) {
            let slot = match k.trim_start_matches('$') {
                "filter" => &mut raw.filter,
                "search" => &mut raw.search,
                "orderby" => &mut raw.orderby,
                "skip" => &mut raw.skip,
                "top" => &mut raw.top,
                "count" => &mut raw.count,
                _ => continue,
            };
            if slot.is_some() {
                return Err(ApiError::validation(&k, "given more than once"));
            }
            *slot = Some(v);
        }
        Ok(ListParams(raw))
    }
}

/// Decodes `a=b&c=d` (percent-decoding, `+` as space).
pub fn form_pairs(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (decode(k), decode(v))
        })
        .collect()
}

fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(b) => {
                        out.push(b);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Parses the query against `schema`, runs it over `items` and answers
/// `{count, items}`.
pub fn respond(
    params: &ListParams,
    schema: &ListSchema,
    items: impl IntoIterator<Item = Map<String, Value>>,
) -> Result<Json<Value>, ApiError> {
    let query = ListQuery::parse(&params.0, schema)
        .map_err(|e| ApiError::validation(&e.param, e.message))?;
    let page = query.run(items);
    Ok(Json(json!({ "count": page.count, "items": page.items })))
}

pub use crate::queries::lists::schema_from_table;

/// Parses the list query against `schema` (a bad one is a 400 naming the parameter).
pub fn parse(params: &ListParams, schema: &ListSchema) -> Result<ListQuery, ApiError> {
    ListQuery::parse(&params.0, schema).map_err(|e| ApiError::validation(&e.param, e.message))
}

/// Answers a JSON body built elsewhere (a page from
/// [`super::render_cache::RenderCache::page`]).
pub fn answer_body(body: Vec<u8>) -> axum::response::Response {
    use axum::response::IntoResponse;
    (
        [(
            axum::http::header::CONTENT_TYPE,
            axum::http::HeaderValue::from_static("application/json"),
        )],
        body,
    )
        .into_response()
}

/// Answers one page of an indexed list (see [`crate::queries::collection`]):
/// the queries layer finds the page's ids, and each item's JSON is copied
/// from its memoized rendering (`render` runs once per item version) or,
/// for a past state (`past`: `?as_of=`), rendered directly. In lists that
/// show the caller's `favorite` flag (`list.favorites`), `render` is given
/// the flag to render.
#[allow(clippy::too_many_arguments)]
pub fn indexed<C: crate::queries::collection::Collection>(
    state: &super::AppState,
    model: &crate::queries::ReadModel,
    past: bool,
    coll: &C,
    shape: impl Into<super::render_cache::Shape>,
    list: crate::queries::collection::ListOf<'_>,
    query: &ListQuery,
    render: impl Fn(switchboard_events::Id, Option<bool>) -> Option<Map<String, Value>>,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let page = crate::queries::collection::page(model, coll, list, query);
    let favorite = |id| list.favorites.map(|f| f.contains(&id));
    if past {
        let items = page.ids.iter().filter_map(|id| render(*id, favorite(*id)));
        return answer(page.count, items).into_response();
    }
    let flagged = list.favorites.is_some();
    let indexed = model.list(coll.name(), list.tenant, list.owner);
    let items: Vec<PageItem> = page
        .ids
        .iter()
        .map(|id| PageItem {
            id: *id,
            version: indexed.map_or(model.offset, |l| l.version(*id)),
            flag: favorite(*id).unwrap_or(false),
        })
        .collect();
    let body = state.render_cache.page(
        shape.into(),
        list.tenant,
        page.count,
        &items,
        flagged,
        |id, f| Value::Object(render(id, flagged.then_some(f)).unwrap_or_default()),
    );
    answer_body(body)
}

/// Answers `{count, items}` for a page the queries layer computed.
pub fn answer(count: usize, items: impl IntoIterator<Item = Map<String, Value>>) -> Json<Value> {
    let items: Vec<Value> = items.into_iter().map(Value::Object).collect();
    Json(json!({ "count": count, "items": items }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_strings_decode() {
        let pairs = form_pairs("filter=name%20eq%20%27a%27&top=5&$skip=1&x&search=a+b&bad=%zz%");
        assert_eq!(pairs[0], ("filter".into(), "name eq 'a'".into()));
        assert_eq!(pairs[2], ("$skip".into(), "1".into()));
        assert_eq!(pairs[3], ("x".into(), "".into()));
        assert_eq!(pairs[4], ("search".into(), "a b".into()));
        assert_eq!(pairs[5], ("bad".into(), "%zz%".into()));
    }
}
