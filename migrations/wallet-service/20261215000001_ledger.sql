-- wallet-service: a double-entry ledger beside the seller-facing wallet rows (docs/ledger.md).
--
-- Every money movement is one ledger_entries row with two or more ledger_postings whose
-- amounts sum to zero. Amounts are KRW whole won, signed: a debit is positive, a credit
-- negative. ledger_accounts.balance is kept in the account's *normal* direction (what the
-- account holds), so a seller's pending money is a positive number:
--   PSP_CLEARING (asset, debit-normal)        balance = Σ postings
--   every other kind (credit-normal)          balance = −Σ postings
-- The wallets table stays: wallets.balance = SELLER_PENDING + SELLER_AVAILABLE of the seller,
-- changed in the same transaction as the postings, and wallet_transactions keeps one CREDIT
-- row per sold line and one REVERSAL row per (cancel, seller), in net amounts.

create function ledger_normal_sign(kind text)
    returns integer
    language sql
    immutable
as $$
    select case when kind = 'PSP_CLEARING' then 1 else -1 end;
$$;

create table ledger_accounts (
    id bigint generated always as identity primary key,
    kind text not null,
    -- null for the two platform accounts, the seller for the others
    seller_no bigint,
    balance numeric(19, 0) not null default 0,
    created_at timestamptz not null default now(),
    constraint ledger_accounts_kind_check check (kind in (
        'PSP_CLEARING',        -- money the PSP holds for us (gross of sales, less refunds)
        'PLATFORM_FEES',       -- commission earned
        'SELLER_PENDING',      -- owed to the seller, still on hold
        'SELLER_AVAILABLE',    -- owed to the seller, releasable (may go negative: reversals)
        'PAYOUTS_IN_TRANSIT',  -- a payout sent, not yet confirmed (reserved for payouts)
        'SELLER_PAID_OUT')),   -- cumulative paid out: contra to PSP_CLEARING (reserved)
    constraint ledger_accounts_owner_check
        check ((kind in ('PSP_CLEARING', 'PLATFORM_FEES')) = (seller_no is null)),
    constraint ledger_accounts_kind_seller_key unique nulls not distinct (kind, seller_no),
    -- Floors, checked on every balance change in the posting's own transaction. The floor of
    -- SELLER_AVAILABLE (≥ 0 unless a REVERSAL takes it lower) needs the entry's kind, so it is
    -- in ledger_apply_posting() below.
    constraint ledger_accounts_pending_floor check (kind <> 'SELLER_PENDING' or balance >= 0),
    constraint ledger_accounts_transit_floor check (kind <> 'PAYOUTS_IN_TRANSIT' or balance >= 0),
    constraint ledger_accounts_paid_out_floor check (kind <> 'SELLER_PAID_OUT' or balance >= 0),
    constraint ledger_accounts_fees_floor check (kind <> 'PLATFORM_FEES' or balance >= 0)
);
-- Created first, so their ids are the lowest: postings lock accounts in id order.
insert into ledger_accounts (kind) values ('PSP_CLEARING'), ('PLATFORM_FEES');

create table ledger_entries (
    id bigint generated always as identity primary key,  -- also the keyset of entry pages
    -- sale:<paymentOrderNo>, reverse:<cancelNo>:<paymentOrderNo>, release:<sale entry id>, …
    idempotency_key text not null,
    kind text not null,
    -- the seller whose accounts the entry moves (null only for platform-only entries)
    seller_no bigint,
    order_id text,
    payment_event_no bigint,
    payment_order_no bigint,
    cancel_no bigint,
    payout_no bigint,
    -- SALE and REVERSAL: the commission rate the sale was charged at (a reversal reuses it)
    fee_rate numeric(7, 6),
    created_at timestamptz not null default now(),
    constraint ledger_entries_idempotency_key_key unique (idempotency_key),
    constraint ledger_entries_kind_check check (kind in (
        'SALE', 'REVERSAL', 'RELEASE', 'PAYOUT', 'PAYOUT_COMPLETED', 'PAYOUT_FAILED',
        'OPENING')),  -- OPENING: a wallet's balance from before the ledger (below)
    constraint ledger_entries_fee_rate_check check (fee_rate >= 0 and fee_rate < 1)
);
create index ledger_entries_payment_order_no_idx on ledger_entries (payment_order_no);
create index ledger_entries_cancel_idx on ledger_entries (cancel_no, seller_no)
    where cancel_no is not null;
create index ledger_entries_seller_idx on ledger_entries (seller_no, id desc);
create index ledger_entries_seller_created_idx on ledger_entries (seller_no, created_at, id);

create table ledger_postings (
    entry_id bigint not null references ledger_entries (id),
    account_id bigint not null references ledger_accounts (id),
    amount numeric(19, 0) not null,   -- debit > 0, credit < 0
    constraint ledger_postings_pkey primary key (entry_id, account_id),
    constraint ledger_postings_amount_check check (amount <> 0)
);
create index ledger_postings_account_idx on ledger_postings (account_id, entry_id);

-- Balances move with their postings, in the posting's transaction, whoever inserts it: code
-- cannot forget it. SELLER_AVAILABLE may only be taken below zero by a REVERSAL (the customer
-- already has the money back; docs/ledger.md).
create function ledger_apply_posting()
    returns trigger
    language plpgsql
as $$
declare
    account_kind text;
    new_balance numeric;
begin
    update ledger_accounts
       set balance = balance + new.amount * ledger_normal_sign(kind)
     where id = new.account_id
    returning kind, balance into account_kind, new_balance;
    if account_kind = 'SELLER_AVAILABLE' and new_balance < 0 and new.amount > 0
       and (select kind from ledger_entries where id = new.entry_id)
           not in ('REVERSAL', 'OPENING') then
        raise exception 'ledger: % would take SELLER_AVAILABLE (account %) to %',
            (select kind from ledger_entries where id = new.entry_id), new.account_id, new_balance
            using errcode = 'check_violation', constraint = 'ledger_accounts_available_floor';
    end if;
    return null;
end;
$$;
create trigger ledger_postings_apply after insert on ledger_postings
    for each row execute function ledger_apply_posting();

-- The database refuses an unbalanced entry: at commit, every entry that got postings in the
-- transaction must sum to zero.
create function ledger_check_entry_balanced()
    returns trigger
    language plpgsql
as $$
declare
    total numeric;
begin
    select sum(amount) into total from ledger_postings where entry_id = new.entry_id;
    if total <> 0 then
        raise exception 'ledger: entry % is unbalanced (postings sum to %)', new.entry_id, total
            using errcode = 'check_violation', constraint = 'ledger_postings_balanced';
    end if;
    return null;
end;
$$;
create constraint trigger ledger_postings_balanced after insert on ledger_postings
    deferrable initially deferred
    for each row execute function ledger_check_entry_balanced();

-- Append-only: a posted entry is corrected by another entry, never edited.
create function ledger_refuse_change()
    returns trigger
    language plpgsql
as $$
begin
    raise exception 'ledger: % is append-only', tg_table_name using errcode = 'restrict_violation';
end;
$$;
create trigger ledger_entries_append_only before update or delete on ledger_entries
    for each row execute function ledger_refuse_change();
create trigger ledger_postings_append_only before update or delete on ledger_postings
    for each row execute function ledger_refuse_change();

-- One row per sold line: what the sale posted and how much of it has gone back or been
-- released. Reversals and the release job read and update it under the seller's wallet lock.
create table ledger_sales (
    payment_order_no bigint primary key,
    entry_id bigint not null references ledger_entries (id),
    seller_no bigint not null,
    gross numeric(19, 0) not null,
    fee numeric(19, 0) not null,
    fee_rate numeric(7, 6) not null,
    -- cumulative refunds of the line: gross refunded, fee and net given back
    refunded numeric(19, 0) not null default 0,
    fee_returned numeric(19, 0) not null default 0,
    net_returned numeric(19, 0) not null default 0,
    release_due_at timestamptz not null,
    released_at timestamptz,
    -- what the release moved from SELLER_PENDING to SELLER_AVAILABLE
    released numeric(19, 0),
    constraint ledger_sales_entry_id_key unique (entry_id),
    constraint ledger_sales_amounts_check check (gross > 0 and fee >= 0 and fee < gross),
    constraint ledger_sales_refunded_check check (refunded >= 0 and refunded <= gross),
    constraint ledger_sales_fee_returned_check check (fee_returned >= 0 and fee_returned <= fee),
    constraint ledger_sales_net_returned_check
        check (net_returned >= 0 and net_returned <= gross - fee),
    constraint ledger_sales_returns_check check (fee_returned + net_returned = refunded)
);
-- the release job's queue: due sales not released yet
create index ledger_sales_due_idx on ledger_sales (release_due_at) where released_at is null;
create index ledger_sales_seller_idx on ledger_sales (seller_no);

-- Commission per seller, set by an operator; sellers without a row pay FEE_RATE_DEFAULT.
create table seller_fee_rates (
    seller_no bigint primary key,
    fee_rate numeric(7, 6) not null,
    updated_at timestamptz not null default now(),
    constraint seller_fee_rates_fee_rate_check check (fee_rate >= 0 and fee_rate < 1)
);

-- A parked reversal now keeps each line's refunded amount (parallel to payment_order_nos): the
-- ledger gives back fee and net per line. Rows parked before this migration have none; they
-- are spread over their lines in line order (docs/ledger.md).
alter table pending_reversals add column line_amounts numeric(19, 2)[];

-- Wallets from before the ledger: the seller's four accounts, and the balance opened as
-- available money against PSP_CLEARING (sales and refunds before today are not itemised).
insert into ledger_accounts (kind, seller_no)
select k.kind, w.seller_no
  from wallets w
 cross join (values (1, 'SELLER_PENDING'), (2, 'SELLER_AVAILABLE'), (3, 'PAYOUTS_IN_TRANSIT'),
                    (4, 'SELLER_PAID_OUT')) as k(n, kind)
 order by w.seller_no, k.n;
insert into ledger_entries (idempotency_key, kind, seller_no)
select 'opening:' || seller_no, 'OPENING', seller_no from wallets where round(balance) <> 0;
insert into ledger_postings (entry_id, account_id, amount)
select e.id, a.id, case a.kind when 'PSP_CLEARING' then round(w.balance) else -round(w.balance) end
  from ledger_entries e
  join wallets w on w.seller_no = e.seller_no
  join ledger_accounts a
    on (a.kind = 'PSP_CLEARING' and a.seller_no is null)
    or (a.kind = 'SELLER_AVAILABLE' and a.seller_no = e.seller_no)
 where e.kind = 'OPENING'
 order by e.id, a.id;
