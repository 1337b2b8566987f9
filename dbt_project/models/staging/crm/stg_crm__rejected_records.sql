{{ stg_rejected_records('crm') }}
