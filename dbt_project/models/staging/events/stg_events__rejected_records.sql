{{ stg_rejected_records('events') }}
