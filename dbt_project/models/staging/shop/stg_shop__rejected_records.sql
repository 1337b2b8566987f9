{{ stg_rejected_records('shop') }}
