{{ stg_rejected_records('fx') }}
